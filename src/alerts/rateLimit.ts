/** Decides which alerts become pop-up notifications: one per (run, kind) per interval, none for muted runs. */
import { Alert } from './rules';

export class NotificationGate {
  private readonly last = new Map<string, number>();
  private readonly muted = new Set<string>();
  /** Alerts held back since the last one shown, per (run, kind), so the next one can say how many. */
  private readonly suppressed = new Map<string, number>();

  constructor(
    private intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  setInterval(ms: number): void {
    this.intervalMs = ms;
  }

  mute(runId: string): void {
    this.muted.add(runId);
  }

  isMuted(runId: string): boolean {
    return this.muted.has(runId);
  }

  /** Returns how many similar alerts were held back before this one, or undefined when this one is held back too. */
  admit(a: Alert): number | undefined {
    if (this.muted.has(a.run_id)) return undefined;
    const key = `${a.run_id}\u0000${a.kind}`;
    const t = this.now();
    const prev = this.last.get(key);
    if (prev !== undefined && t - prev < this.intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return undefined;
    }
    this.last.set(key, t);
    const held = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    return held;
  }
}
