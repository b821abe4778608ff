/**
 * The local control channel of a running syncer (watch, daemon or monitor): a
 * Unix socket beside the SQLite file, speaking JSON lines. It lets `dualdb sync
 * --now`, scripts and the monitor ask the running one to sync, pause, report
 * status or stream its log. Who may run is decided by the single-instance lock
 * (instance-lock.ts, released by the OS when its holder dies), taken before the
 * socket: a socket whose owner does not answer a ping is never taken as stale.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../util/error-codes.js';
import { DualdbError } from '../util/errors.js';
import { EXIT } from '../util/exit-codes.js';
import { InstanceLock } from './instance-lock.js';

/** `rekeys-resolve`: `dualdb rekeys resolve`, run by the syncer in its own loop (rekey-resolve-request.ts). */
export type ControlCommand = 'ping' | 'status' | 'sync-now' | 'pause' | 'resume' | 'subscribe' | 'rekeys-resolve';

export interface ControlRequest {
  id: number;
  cmd: ControlCommand;
  /** The command's arguments (`rekeys-resolve`: which collision, which side). */
  args?: unknown;
}

/** A failure as the syncer met it, so that a client can report it as if it had run the command itself. */
export interface ControlFailure {
  code?: string;
  message: string;
  hint?: string;
  exitCode?: number;
}

export interface ControlResponse {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  /** With `error`: the failure's code, message, hint and exit code (sendControl's `relayErrors`). */
  failure?: ControlFailure;
  /** Streamed after `subscribe`. */
  event?: string;
  data?: unknown;
}

export type ControlHandler = (cmd: ControlCommand, args?: unknown) => Promise<unknown>;

/** Socket path for a SQLite file: beside it when short enough, else in the temp folder. */
export function controlSocketPath(sqlitePath: string): string {
  let real = path.resolve(sqlitePath);
  try {
    real = realpathSync(real);
  } catch {
    // not created yet: the resolved path is as good
  }
  const beside = `${real}.dualdb.sock`;
  if (Buffer.byteLength(beside) < 100) return beside;
  return path.join(os.tmpdir(), `dualdb-${createHash('sha1').update(real).digest('hex').slice(0, 16)}.sock`);
}

/** What holds the lock, by the `kind` its ping answers. */
const RUNNER_NAMES: Record<string, string> = {
  watch: 'dualdb sync --watch',
  daemon: 'dualdb sync --daemon',
  once: 'dualdb sync --once',
  monitor: 'dualdb monitor',
};

export class AlreadyRunningError extends DualdbError {
  constructor(sqlitePath: string, info: unknown) {
    const { pid, kind } = (info ?? {}) as { pid?: number; kind?: string };
    const who = (kind && RUNNER_NAMES[kind]) || 'dualdb syncer';
    super('ALREADY_RUNNING', `a ${who}${pid ? ` (pid ${pid})` : ''} is already running for ${sqlitePath}`, {
      hint: 'use `dualdb sync --now` or `dualdb monitor` to talk to it, or stop it first',
      exitCode: EXIT.FAILURE,
    });
  }
}

export class NotRunningError extends DualdbError {
  constructor(sqlitePath: string) {
    super('NOT_RUNNING', `no dualdb syncer is running for ${sqlitePath}`, {
      hint: 'start one with `dualdb sync --watch` or `dualdb sync --daemon`, or run `dualdb sync --once`',
      exitCode: EXIT.FAILURE,
    });
  }
}

function connect(socketPath: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error('control socket timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The longest line a reader accepts from the syncer (a status of many tables stays far below). */
const MAX_LINE_FROM_SERVER = 16 * 1024 * 1024;
/** The longest request line the syncer accepts (requests are a few dozen bytes). */
const MAX_LINE_FROM_CLIENT = 64 * 1024;
/**
 * What the syncer keeps queued for one subscriber that does not read (a suspended monitor):
 * beyond it, events are dropped for that subscriber and counted, and a `dropped` event tells
 * it how many once it reads again. The daemon's memory stays bounded whatever the subscriber does.
 */
export const SUBSCRIBER_BUFFER_BYTES = 1024 * 1024;

/**
 * Reads JSON lines. A line longer than `maxLine` (a peer that never sends a newline) ends the
 * connection instead of growing the buffer.
 */
function lines(sock: net.Socket, onLine: (msg: ControlResponse) => void, maxLine: number): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) {
        try {
          onLine(JSON.parse(line) as ControlResponse);
        } catch {
          // ignore garbage
        }
      }
    }
    if (buf.length > maxLine) {
      buf = '';
      sock.destroy(new Error(`control line longer than ${maxLine} bytes`));
    }
  });
}

export interface SendOptions {
  args?: unknown;
  /**
   * A failure comes back as the error the syncer met (its code, message, hint and exit code), as
   * if this process had run the command: the CLI's output and exit code are the same either way.
   * Without it, one CONTROL_FAILED line (exit 1).
   */
  relayErrors?: boolean;
}

/** The syncer's failure, rebuilt: one of ours with its code and exit code, or a plain error with its message. */
function relayed(f: ControlFailure): Error {
  if (f.exitCode === undefined) return Object.assign(new Error(f.message), f.code ? { code: f.code } : {});
  const code = (ERROR_CODES as readonly string[]).includes(f.code ?? '') ? (f.code as ErrorCode) : 'CONTROL_FAILED';
  return new DualdbError(code, f.message, { ...(f.hint ? { hint: f.hint } : {}), exitCode: f.exitCode });
}

function failureOf(e: unknown): ControlFailure {
  if (e instanceof DualdbError)
    return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), exitCode: e.exitCode };
  const code = (e as { code?: unknown } | null)?.code;
  return { message: e instanceof Error ? e.message : String(e), ...(typeof code === 'string' ? { code } : {}) };
}

/** Sends one command to the running syncer and waits for its answer. */
export async function sendControl(
  sqlitePath: string,
  cmd: ControlCommand,
  timeoutMs = 60_000,
  options: SendOptions = {},
): Promise<unknown> {
  const socketPath = controlSocketPath(sqlitePath);
  let sock: net.Socket;
  try {
    sock = await connect(socketPath, Math.min(timeoutMs, 3000));
  } catch {
    throw new NotRunningError(sqlitePath);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new DualdbError('CONTROL_TIMEOUT', `the running syncer did not answer "${cmd}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    lines(
      sock,
      (msg) => {
        if (msg.id !== 1) return;
        clearTimeout(timer);
        sock.end();
        if (msg.ok) resolve(msg.result);
        else if (options.relayErrors && msg.failure) reject(relayed(msg.failure));
        else reject(new DualdbError('CONTROL_FAILED', msg.error ?? 'the running syncer reported a failure'));
      },
      MAX_LINE_FROM_SERVER,
    );
    sock.once('close', () => {
      clearTimeout(timer);
      reject(
        new DualdbError('CONTROL_FAILED', `the running syncer closed the connection before answering "${cmd}"`, {
          // Stopped or killed mid-request: whatever it committed stands (a resolve is whole or not at all).
          hint: 'it stopped meanwhile; check what it did (`dualdb status`, `dualdb rekeys`) and run the command again',
        }),
      );
    });
    sock.write(`${JSON.stringify({ id: 1, cmd, ...(options.args === undefined ? {} : { args: options.args }) })}\n`);
  });
}

/** Streams events (log entries, state changes, cycles) from the running syncer. */
export async function subscribeControl(
  sqlitePath: string,
  onEvent: (event: string, data: unknown) => void,
): Promise<{ close: () => void }> {
  const sock = await connect(controlSocketPath(sqlitePath), 3000).catch(() => {
    throw new NotRunningError(sqlitePath);
  });
  lines(
    sock,
    (msg) => {
      if (msg.event) onEvent(msg.event, msg.data);
    },
    MAX_LINE_FROM_SERVER,
  );
  sock.on('close', () => onEvent('closed', null));
  sock.write(`${JSON.stringify({ id: 1, cmd: 'subscribe' })}\n`);
  return { close: () => sock.destroy() };
}

export class ControlServer {
  private readonly subscribers = new Set<net.Socket>();
  /** Events not sent to a subscriber because it had SUBSCRIBER_BUFFER_BYTES queued already. */
  private readonly dropped = new WeakMap<net.Socket, number>();

  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
    private readonly lock: InstanceLock,
  ) {}

  /** Takes the lock for `sqlitePath` and serves commands; refuses when another syncer holds it. */
  static async listen(sqlitePath: string, handler: ControlHandler): Promise<ControlServer> {
    const lock = InstanceLock.tryAcquire(sqlitePath);
    if (!lock) {
      // A live holder: name it when its socket answers (it may be starting, or busy in a long batch).
      const info = await sendControl(sqlitePath, 'ping', 2000).catch(() => null);
      throw new AlreadyRunningError(sqlitePath, info);
    }
    const socketPath = controlSocketPath(sqlitePath);
    try {
      // We hold the lock, so a socket left here belongs to a process that died.
      if (existsSync(socketPath)) unlinkSync(socketPath);
      const server = net.createServer();
      const control = new ControlServer(server, socketPath, lock);
      server.on('connection', (sock) => control.serve(sock, handler));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
      server.unref();
      return control;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private serve(sock: net.Socket, handler: ControlHandler): void {
    sock.on('error', () => this.subscribers.delete(sock));
    sock.on('close', () => this.subscribers.delete(sock));
    lines(
      sock,
      async (msg) => {
        const req = msg as unknown as ControlRequest;
        if (req.cmd === 'subscribe') {
          this.subscribers.add(sock);
          sock.write(`${JSON.stringify({ id: req.id, ok: true, result: null })}\n`);
          return;
        }
        try {
          const result = await handler(req.cmd, req.args);
          sock.write(`${JSON.stringify({ id: req.id, ok: true, result }, jsonSafe)}\n`);
        } catch (e) {
          const error = e instanceof DualdbError ? e.oneLine() : e instanceof Error ? e.message : String(e);
          sock.write(`${JSON.stringify({ id: req.id, ok: false, error, failure: failureOf(e) })}\n`);
        }
      },
      MAX_LINE_FROM_CLIENT,
    );
  }

  /**
   * Sends an event to every subscriber (the monitor attached to a daemon), without waiting for
   * any: one that does not read gets no more than SUBSCRIBER_BUFFER_BYTES queued, then a count.
   */
  broadcast(event: string, data: unknown): void {
    if (this.subscribers.size === 0) return;
    const line = `${JSON.stringify({ event, data }, jsonSafe)}\n`;
    for (const s of this.subscribers) {
      if (s.writableLength + line.length > SUBSCRIBER_BUFFER_BYTES) {
        const dropped = this.dropped.get(s) ?? 0;
        this.dropped.set(s, dropped + 1);
        // Told as soon as it reads again, even if no event follows.
        if (dropped === 0) s.once('drain', () => this.flushDropped(s));
        continue;
      }
      this.flushDropped(s);
      s.write(line);
    }
  }

  private flushDropped(s: net.Socket): void {
    const events = this.dropped.get(s);
    if (!events) return;
    this.dropped.delete(s);
    s.write(`${JSON.stringify({ event: 'dropped', data: { events } })}\n`);
  }

  /** Bytes queued for subscribers that have not read them yet (bounded by SUBSCRIBER_BUFFER_BYTES each). */
  get queuedBytes(): number {
    let n = 0;
    for (const s of this.subscribers) n += s.writableLength;
    return n;
  }

  async close(): Promise<void> {
    for (const s of this.subscribers) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
    this.lock.release();
  }
}

export function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}
