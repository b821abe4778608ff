/**
 * TLS settings of the hub connection: the CA file named by DB_SSL_CA is checked before any
 * connection (a missing file used to surface as "MySQL error ENOENT"), with the same checks
 * for the setup wizard's field.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../util/errors.js';

/** What is wrong with a CA file, in words, or undefined when it is a readable PEM certificate file. */
export function sslCaProblem(file: string): string | undefined {
  let text: string;
  try {
    if (statSync(file).isDirectory()) return `DB_SSL_CA names ${file}, which is a folder, not a certificate file`;
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `DB_SSL_CA names ${file}, which does not exist`;
    if (code === 'EACCES') return `DB_SSL_CA names ${file}, which this user may not read`;
    return `DB_SSL_CA names ${file}, which cannot be read (${code ?? (e as Error).message})`;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    return `DB_SSL_CA names ${file}, which holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  return undefined;
}

export const SSL_CA_HINT =
  'give the path of the CA certificate (PEM) that signed the server’s certificate in DB_SSL_CA, or leave it empty to trust the system’s CAs';

/** The CA file's text, or a ConfigError naming DB_SSL_CA and the path. */
export function readSslCa(file: string): string {
  const problem = sslCaProblem(file);
  if (problem) throw new ConfigError('DB_SSL_CA', problem, { hint: SSL_CA_HINT });
  return readFileSync(file, 'utf8');
}
