/** Turns bursts of change notifications into at most one flush per interval. */

/** Time and timers, injectable so tests can drive a fake clock. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * `request()` as often as you like: `flush` runs at most once per `intervalMs`, promptly after a
 * quiet period and at the end of the current interval during a burst, so nothing waits longer
 * than one interval and nothing requested is lost.
 */
export class Coalescer {
  private timer: unknown;
  private lastFlush = -Infinity;

  constructor(
    private readonly flush: () => void,
    private readonly intervalMs: number,
    private readonly scheduler: Scheduler = realScheduler,
  ) {}

  request(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.scheduler.now());
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      this.lastFlush = this.scheduler.now();
      this.flush();
    }, wait);
  }

  get pending(): boolean {
    return this.timer !== undefined;
  }

  dispose(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
