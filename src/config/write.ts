/**
 * Writes a `.env` file the way a careful operator would: mode 0600 from the first
 * byte (never world-readable, even briefly), atomically (temp file + rename), and
 * keeping variables it does not manage.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';

/**
 * Quotes a value so that dotenv reads back exactly the same string. dotenv does
 * not unescape \" inside double quotes, so we pick a quote the value lacks:
 * single quotes are literal, backticks next, double quotes last (only for values
 * without backslashes, which dotenv would expand). A trailing backslash would
 * read as an escaped closing quote (dotenv's pattern then runs on to the next
 * line), so such values are written bare when dotenv reads them back intact.
 * Anything else is refused: an error, never a silently different value.
 */
export function formatEnvValue(value: string): string {
  if (/^[A-Za-z0-9_./:@+-]*$/.test(value)) return value;
  if (value.includes('\n') || value.includes('\r')) {
    throw new Error('a .env value cannot contain a line break');
  }
  if (!value.endsWith('\\')) {
    if (!value.includes("'")) return `'${value}'`;
    if (!value.includes('`')) return `\`${value}\``;
    if (!value.includes('"') && !value.includes('\\')) return `"${value}"`;
  }
  // Bare: dotenv takes everything up to a '#' and trims it; a leading quote would start a quoted value.
  if (!value.includes('#') && value.trim() === value && !/^['"`]/.test(value)) return value;
  throw new Error(
    'a .env value cannot contain single quotes and backticks (or end with a backslash) together with a #, a leading quote or surrounding spaces',
  );
}

export function writeEnvFile(file: string, values: Record<string, string | undefined>, header?: string): void {
  const existing = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  const merged: Record<string, string> = { ...existing };
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const lines = [header ? `# ${header}` : '# Written by dualdb setup', ''];
  for (const [k, v] of Object.entries(merged)) lines.push(`${k}=${formatEnvValue(v)}`);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${lines.join('\n')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
