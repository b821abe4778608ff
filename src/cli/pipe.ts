/**
 * Output into a closed pipe (`dualdb status | head -1`): the reader has all it wanted, so the
 * command ends quietly with exit 0 instead of an unhandled EPIPE stack trace.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}
