/**
 * The setup's own record in the sync log (redacted there as well). Lines wait
 * in memory until the log's folder exists (the SQLite file's, by default): a
 * setup that fails before writing anything leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SyncLog } from '../log/sync-log.js';

type Level = 'info' | 'warn' | 'error';

export class SetupRecord {
  private log: SyncLog | undefined;
  private readonly pending: { level: Level; msg: string; fields: Record<string, unknown> }[] = [];

  /** `file` says where the log is now (it follows the answers). */
  constructor(private readonly file: () => string) {}

  write(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    this.pending.push({ level, msg, fields });
    this.flush();
  }

  private flush(): void {
    try {
      if (!this.log) {
        const file = this.file();
        if (!existsSync(path.dirname(file))) return;
        this.log = new SyncLog({ file, level: 'info' });
      }
      for (const e of this.pending.splice(0)) this.log[e.level](e.msg, e.fields);
    } catch {
      // The log is a record, not a requirement: setup goes on without it.
    }
  }

  async close(): Promise<void> {
    this.flush();
    await this.log?.close();
    this.log = undefined;
  }
}
