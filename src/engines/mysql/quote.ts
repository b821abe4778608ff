/** Identifier quoting for MySQL/MariaDB: backticks, embedded backticks doubled. */
export function quoteMysqlId(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}
