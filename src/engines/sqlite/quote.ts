/** Identifier quoting for SQLite: double quotes, embedded quotes doubled. */
export function quoteSqliteId(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string literal for places where SQLite takes no parameters (trigger bodies). */
export function sqliteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
