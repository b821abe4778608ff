/** Rolling numbers for status and the monitor: lag percentiles and rows per second over the last minute. */

export interface LagSummary {
  p50: number | null;
  p99: number | null;
  max: number | null;
  samples: number;
}

const MAX_LAG_SAMPLES = 50_000;

export class RollingMetrics {
  /** Lag samples, one group per recorded batch (a 2,000-row batch is one object, not 2,000), oldest first. */
  private lags: { t: number; push: boolean; ms: number[] }[] = [];
  private lagCount = 0;
  /** Rows applied per second, newest last, 60 buckets. */
  private buckets = new Map<number, number>();

  constructor(private readonly windowMs = 60_000) {}

  recordLags(direction: 'push' | 'pull', lags: number[], now = Date.now()): void {
    if (lags.length > 0) {
      this.lags.push({ t: now, push: direction === 'push', ms: lags.slice() });
      this.lagCount += lags.length;
    }
    this.trim(now);
  }

  recordRows(count: number, now = Date.now()): void {
    if (count <= 0) return;
    const s = Math.floor(now / 1000);
    this.buckets.set(s, (this.buckets.get(s) ?? 0) + count);
    this.trim(now);
  }

  lag(direction: 'push' | 'pull', now = Date.now()): LagSummary {
    this.trim(now);
    const xs = this.lags
      .filter((l) => l.push === (direction === 'push'))
      .flatMap((l) => l.ms)
      .sort((a, b) => a - b);
    if (xs.length === 0) return { p50: null, p99: null, max: null, samples: 0 };
    const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? null;
    return { p50: at(0.5), p99: at(0.99), max: xs[xs.length - 1] ?? null, samples: xs.length };
  }

  /** Rows per second for each of the last `seconds` seconds, oldest first. */
  throughput(seconds = 60, now = Date.now()): number[] {
    const s = Math.floor(now / 1000);
    const out: number[] = [];
    for (let i = seconds - 1; i >= 0; i--) out.push(this.buckets.get(s - i) ?? 0);
    return out;
  }

  private trim(now: number): void {
    const cutoff = now - this.windowMs;
    if (this.lags.length > 0 && (this.lags[0]?.t ?? now) < cutoff) {
      this.lags = this.lags.filter((l) => l.t >= cutoff);
      this.lagCount = this.lags.reduce((n, l) => n + l.ms.length, 0);
    }
    // The newest 50,000 samples at most.
    while (this.lagCount > MAX_LAG_SAMPLES) {
      const oldest = this.lags[0] as { ms: number[] };
      const excess = this.lagCount - MAX_LAG_SAMPLES;
      if (oldest.ms.length <= excess) {
        this.lags.shift();
        this.lagCount -= oldest.ms.length;
      } else {
        oldest.ms = oldest.ms.slice(excess);
        this.lagCount -= excess;
      }
    }
    const sCut = Math.floor(cutoff / 1000);
    for (const k of this.buckets.keys()) if (k < sCut) this.buckets.delete(k);
  }
}
