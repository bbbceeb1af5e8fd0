/** Steps per second over a sliding window of (time, step count) samples. */
export class RateMeter {
  private readonly times: number[] = [];
  private readonly counts: number[] = [];

  constructor(private readonly windowMs = 5000) {}

  sample(timeMs: number, count: number): void {
    this.times.push(timeMs);
    this.counts.push(count);
    // Keep one sample at or before the window's start so the rate spans the whole window.
    while (this.times.length > 2 && this.times[1] <= timeMs - this.windowMs) {
      this.times.shift();
      this.counts.shift();
    }
  }

  /** Null until samples span at least half a second. */
  rate(): number | null {
    const n = this.times.length;
    if (n < 2) return null;
    const dt = this.times[n - 1] - this.times[0];
    if (dt < 500) return null;
    return ((this.counts[n - 1] - this.counts[0]) * 1000) / dt;
  }

  reset(): void {
    this.times.length = 0;
    this.counts.length = 0;
  }
}
