/**
 * Commander discards what actions return; commands here return their exit
 * code, and `action()` records it for `run()` to hand to the process.
 */
let recorded: number | undefined;

export function action<A extends unknown[]>(fn: (...args: A) => Promise<number> | number): (...args: A) => Promise<void> {
  return async (...args: A) => {
    recorded = await fn(...args);
  };
}

export function takeExitCode(): number | undefined {
  const c = recorded;
  recorded = undefined;
  return c;
}
