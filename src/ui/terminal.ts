/**
 * The terminal around the full-screen app: the alternate screen (Ink 6.8 has
 * no switch for it), the cursor, raw mode, and putting all of it back on every
 * way out — normal exit, Ctrl+C, SIGTERM/SIGINT/SIGHUP, an uncaught exception
 * or an unhandled rejection. Restoring twice is harmless.
 */

export const ESC = {
  enterAltScreen: '\u001b[?1049h',
  leaveAltScreen: '\u001b[?1049l',
  home: '\u001b[H',
  clear: '\u001b[2J',
  hideCursor: '\u001b[?25l',
  showCursor: '\u001b[?25h',
  resetAttributes: '\u001b[0m',
} as const;

export interface TerminalStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/** Both ends are terminals: the only case where the full-screen app may start. */
export function isInteractive(streams: Partial<TerminalStreams> = process): boolean {
  return Boolean(streams.stdin?.isTTY && streams.stdout?.isTTY);
}

export interface FullScreen {
  /** Leaves the alternate screen and shows the cursor; idempotent. */
  restore(): void;
  readonly active: boolean;
}

export interface FullScreenOptions {
  /** Called once on SIGTERM/SIGINT/SIGHUP (after nothing has been restored yet): stop work, then call restore. */
  onSignal?: (signal: NodeJS.Signals) => void;
  /** Called on an uncaught exception or unhandled rejection, after the terminal is restored. Default: print and exit 1. */
  onCrash?: (error: unknown) => void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Switches to the alternate screen and installs the handlers that undo it.
 * The returned `restore` removes the handlers again.
 */
export function enterFullScreen(streams: TerminalStreams = process, options: FullScreenOptions = {}): FullScreen {
  const { stdin, stdout } = streams;
  let active = true;
  stdout.write(ESC.enterAltScreen + ESC.home + ESC.clear + ESC.hideCursor);

  const restore = () => {
    if (!active) return;
    active = false;
    process.off('exit', onExit);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    for (const s of SIGNALS) process.off(s, onSignal);
    try {
      if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
    } catch {
      // stdin already closed
    }
    try {
      stdout.write(ESC.resetAttributes + ESC.showCursor + ESC.leaveAltScreen);
    } catch {
      // stdout already closed: nothing left to restore
    }
  };
  // Last resort: whatever ends the process, leave the alternate screen first.
  const onExit = () => restore();
  const onCrash = (error: unknown) => {
    restore();
    if (options.onCrash) {
      options.onCrash(error);
      return;
    }
    process.stderr.write(
      `dualdb: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  };
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled || !options.onSignal) {
      // Second signal, or nobody to stop gracefully: restore and go.
      restore();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
    }
    signalled = true;
    options.onSignal(signal);
  };
  process.on('exit', onExit);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    restore,
    get active() {
      return active;
    },
  };
}
