/**
 * A hub that stops answering without closing its connections (a frozen server, SIGSTOP, a link
 * that drops packets without a reset) leaves a probe or a sync cycle waiting on an open socket,
 * with no error to degrade on. This watchdog runs beside one such round: when it has not finished
 * after `stallMs`, a fresh connection asks the hub `SELECT 1`; when that gets no answer either,
 * the hub is reported stalled (once). A slow round on a hub that answers is left alone.
 * Nothing is aborted: the round goes on and settles when the hub answers again or fails.
 */

import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config/config.js';
import { poolOptions } from '../engines/mysql/connect.js';
import { connectionCutter } from '../engines/mysql/pool-cut.js';

/**
 * Whether the hub answers a fresh connection's `SELECT 1` within the connect timeout. The ping's
 * connection is cut when it is over, answered or not (or when `over` settles first): a frozen hub
 * never completes a polite close, nor a handshake before the connect timeout, and the socket left
 * behind kept a stopping watcher alive.
 */
export async function hubAnswers(m: MysqlConfig, over?: Promise<void>): Promise<boolean> {
  const limit = m.connectTimeoutMs + 1000;
  let timer: NodeJS.Timeout | undefined;
  const pool = mysql.createPool(poolOptions(m, { connectionLimit: 1 }));
  (pool as unknown as { on: (e: string, f: (err: unknown) => void) => void }).on('error', () => {});
  const cut = connectionCutter(pool);
  const ping = pool.query({ sql: 'SELECT 1', timeout: m.connectTimeoutMs }).then(
    () => true,
    () => false,
  );
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), limit);
  });
  try {
    return await Promise.race([ping, late, ...(over ? [over.then(() => false)] : [])]);
  } finally {
    clearTimeout(timer);
    cut();
    void pool.end().catch(() => {});
  }
}

/** Starts watching one hub round; the returned function ends the watch (call it when the round settles). */
export function watchHubStall(m: MysqlConfig, stallMs: number, onStall: (waitedMs: number) => void): () => void {
  const started = Date.now();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let endWatch = () => {};
  const ended = new Promise<void>((resolve) => {
    endWatch = resolve;
  });
  const check = async () => {
    if (done) return;
    const alive = await hubAnswers(m, ended);
    if (done) return;
    if (!alive) {
      onStall(Date.now() - started);
      return;
    }
    timer = setTimeout(check, stallMs);
  };
  timer = setTimeout(check, stallMs);
  return () => {
    done = true;
    clearTimeout(timer);
    endWatch();
  };
}

/**
 * Runs one hub round under the watch: the stall is reported after about DB_CONNECT_TIMEOUT (at
 * least 2 s) plus one ping, counted after `waitsMs` for a round that waits on the hub on purpose
 * (the change probe). The round's own end (or error) is what its caller acts on.
 */
export async function withStallWatch<T>(
  m: MysqlConfig,
  round: () => Promise<T>,
  waitsMs: number,
  onStall: (waitedMs: number) => void,
): Promise<T> {
  const end = watchHubStall(m, Math.max(m.connectTimeoutMs, 2000) + waitsMs, onStall);
  try {
    return await round();
  } finally {
    end();
  }
}
