/**
 * Defence in depth for secrets: code never puts a password in a message on
 * purpose, and every line that leaves the process (logs, screens, errors) passes
 * through `redact`, which replaces any registered secret that slipped in anyway.
 */
const secrets = new Set<string>();

/** Remember a secret so that it is scrubbed from everything we print. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 3) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('***');
  }
  // Passwords inside URLs: mysql://user:secret@host
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)([^@\s]+)(@)/gi, '$1***$3');
}
