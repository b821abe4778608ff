/** Rows per second and ETA of one table's copy, as TableProgress events. */
import type { TableProgress } from './types.js';

export class Meter {
  private readonly started = Date.now();
  private lastEmit = 0;

  constructor(
    readonly table: string,
    private total: number,
    /** Rows already there from an interrupted run (not counted in the rate). */
    private readonly resumed: number,
  ) {}

  progress(done: number, state: TableProgress['state'] = 'copying'): TableProgress {
    this.total = Math.max(this.total, done);
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? (done - this.resumed) / seconds : 0;
    const left = Math.max(0, this.total - done);
    return {
      table: this.table,
      rowsDone: done,
      rowsTotal: this.total,
      rowsPerSec: Math.round(rate),
      etaSec: state === 'done' ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
      state,
    };
  }

  /** Whether enough time passed since the last event (at most ~10 per second per table). */
  due(): boolean {
    const now = Date.now();
    if (now - this.lastEmit < 100) return false;
    this.lastEmit = now;
    return true;
  }

  get seconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}
