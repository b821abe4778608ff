/**
 * Cutting a pool's connections at once. mysql2's `end()` and `destroy()` close a socket politely
 * (COM_QUIT, then a half-close that waits for the server's FIN): against a hub that is frozen
 * (SIGSTOP, a hung VM, a dead network path) neither ever completes, and a query in flight never
 * answers, so a process asked to stop would stay alive for as long as the hub is frozen. Cutting
 * destroys the sockets: the query in flight fails as a lost connection, which every caller already
 * treats like a crash at that instant (an unconfirmed COMMIT is resolved from the hub's log on the
 * next start).
 */
import type mysql from 'mysql2/promise';

interface TrackedConnection {
  stream?: { destroy(): void; once(event: 'close', listener: () => void): unknown };
}

/** Tracks `pool`'s connections from now on; the returned function cuts every one still open. */
export function connectionCutter(pool: mysql.Pool): () => void {
  const open = new Set<TrackedConnection>();
  (pool as unknown as { on(event: 'connection', listener: (c: TrackedConnection) => void): void }).on('connection', (c) => {
    open.add(c);
    c.stream?.once('close', () => open.delete(c));
  });
  return () => {
    // Also those still in their handshake (mysql2 announces a connection only once it is logged in):
    // read from the pool's own list when this mysql2 has one (an internal; without it they end at
    // their connect timeout instead).
    const all = (pool as unknown as { pool?: { _allConnections?: { length: number; get(i: number): TrackedConnection } } }).pool
      ?._allConnections;
    for (let i = 0; all && i < all.length; i++) open.add(all.get(i));
    for (const c of open) {
      // The socket only: mysql2 then fails the command in flight as PROTOCOL_CONNECTION_LOST and the
      // connection leaves the pool on that error. Its own destroy() would first mark it closing, and
      // a closing connection's in-flight command is never answered at all.
      try {
        c.stream?.destroy();
      } catch {
        // closed already
      }
    }
    open.clear();
  };
}

/** Cuts one connection (pooled or not) at once: its socket is destroyed, see above. */
export function cutConnection(conn: unknown): void {
  const c = conn as { destroy?: () => void; stream?: { destroy?: () => void } };
  try {
    c.stream?.destroy?.();
    c.destroy?.();
  } catch {
    // closed already
  }
}
