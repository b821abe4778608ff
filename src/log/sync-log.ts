/**
 * The structured sync log: JSON lines (pino) to LOG_FILE with size-based
 * rotation (rotating-file-stream), and the same entries as events in memory so
 * that the monitor and `sync --watch` can show them without reading the file.
 * Every message passes through `redact`, so a secret can never reach the log.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Logger as PinoLogger, pino } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { redact } from '../util/redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  time: string;
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

export interface LogOptions {
  /** JSON-lines file; omit for memory only. */
  file?: string | undefined;
  level?: LogLevel;
  maxSizeBytes?: number;
  maxFiles?: number;
  /** Entries kept in memory for the monitor. */
  ringSize?: number;
}

const ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

export class SyncLog extends EventEmitter<{ entry: [LogEntry] }> {
  private readonly ring: LogEntry[] = [];
  private readonly ringSize: number;
  private readonly level: LogLevel;
  private stream: RotatingFileStream | undefined;
  private file: PinoLogger | undefined;

  constructor(options: LogOptions = {}) {
    super();
    this.level = options.level ?? 'info';
    this.ringSize = options.ringSize ?? 500;
    if (options.file) {
      mkdirSync(path.dirname(options.file), { recursive: true });
      this.stream = createStream(path.basename(options.file), {
        path: path.dirname(options.file),
        size: `${Math.max(1, Math.round((options.maxSizeBytes ?? 10 * 1024 * 1024) / 1024))}K`,
        rotate: options.maxFiles ?? 5,
      });
      // A log we cannot write must not stop the sync; the entry stays in memory.
      this.stream.on('error', () => {});
      this.file = pino(
        {
          level: 'debug',
          base: undefined,
          timestamp: pino.stdTimeFunctions.isoTime,
          formatters: { level: (label) => ({ level: label }) },
        },
        this.stream,
      );
    }
  }

  /** A log that discards everything (library use without a log file). */
  static memory(level: LogLevel = 'info'): SyncLog {
    return new SyncLog({ level });
  }

  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('error', msg, fields);
  }

  recent(n = 50): LogEntry[] {
    return this.ring.slice(-n);
  }

  private write(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const clean = redact(msg);
    const safeFields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      safeFields[k] = typeof v === 'string' ? redact(v) : typeof v === 'bigint' ? v.toString() : v;
    }
    const entry: LogEntry = {
      time: new Date().toISOString(),
      level,
      msg: clean,
      ...safeFields,
    };
    this.ring.push(entry);
    if (this.ring.length > this.ringSize) this.ring.shift();
    this.file?.[level](safeFields, clean);
    this.emit('entry', entry);
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    this.file = undefined;
    if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
  }
}
