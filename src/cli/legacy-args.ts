/**
 * `dualdb --import-schema <file>` (what users' scripts call) → `dualdb schema import <file>`.
 * Apart from commands/schema.ts so that rewriting the arguments loads no command.
 */
export function rewriteLegacyArgs(argv: string[]): string[] {
  const i = argv.findIndex((a) => a === '--import-schema' || a.startsWith('--import-schema='));
  if (i < 0) return argv;
  const arg = argv[i] as string;
  const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
  const file = inline ?? argv[i + 1];
  if (file === undefined || file.startsWith('-')) return argv; // let commander report the missing value
  const rest = [...argv.slice(0, i), ...argv.slice(i + (inline === undefined ? 2 : 1))];
  return [...rest, 'schema', 'import', file];
}
