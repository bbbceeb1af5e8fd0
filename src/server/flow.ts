/**
 * Keeps the host's event loop responsive while frames pour in. The endpoint runs inside VS Code's
 * extension host, where every millisecond spent ingesting is a millisecond the editor's extensions
 * do not get. Two limits (see BENCHMARKS.md, "Ingest"):
 *
 * - Time: frames are applied in slices of at most `sliceMs` of work; then the event loop gets a
 *   turn (timers, other I/O, UI messages) before the next slice starts.
 * - Memory: once more than `maxQueuedBytes` of received frames wait, the endpoint stops reading
 *   from every connection until half of that is left. Clients then feel TCP backpressure, and the
 *   poll phase that reads sockets stays short: without this, 64 busy connections were read for
 *   hundreds of milliseconds in a single event-loop turn.
 */

export interface FlowLimits {
  sliceMs: number;
  maxQueuedBytes: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = { sliceMs: 5, maxQueuedBytes: 1024 * 1024 };

export class IngestFlow {
  private queuedBytes = 0;
  private paused = false;
  private sliceStart = -1;
  private nextSlice?: Promise<void>;

  /** `setReceiving(false)` must stop reading from every connection, `true` resume it. */
  constructor(
    private readonly limits: FlowLimits,
    private readonly setReceiving: (receiving: boolean) => void,
  ) {}

  get receiving(): boolean {
    return !this.paused;
  }

  get queued(): number {
    return this.queuedBytes;
  }

  /** A frame of this many bytes arrived and waits to be applied. */
  received(bytes: number): void {
    this.queuedBytes += bytes;
    if (!this.paused && this.queuedBytes > this.limits.maxQueuedBytes) {
      this.paused = true;
      this.setReceiving(false);
    }
  }

  /** A frame left the queue (applied, or dropped). */
  done(bytes: number): void {
    this.queuedBytes -= bytes;
    if (this.paused && this.queuedBytes <= this.limits.maxQueuedBytes / 2) {
      this.paused = false;
      this.setReceiving(true);
    }
  }

  /**
   * Resolves when the caller may work: at once while the current slice lasts, else once the event
   * loop has had a turn. A slice starts with the first call after the loop's previous turn.
   */
  async turn(): Promise<void> {
    for (;;) {
      const now = performance.now();
      if (this.sliceStart < 0) return this.startSlice(now); // a new slice always admits one job
      if (now - this.sliceStart < this.limits.sliceMs) return;
      await this.nextSlice;
    }
  }

  private startSlice(now: number): void {
    this.sliceStart = now;
    // setImmediate callbacks run once the loop has polled I/O. A slice begun while sockets were
    // read may go on in the same turn's check phase, so the loop waits at most about two slices.
    this.nextSlice = new Promise((resolve) =>
      setImmediate(() => {
        this.sliceStart = -1;
        resolve();
      }),
    );
  }
}
