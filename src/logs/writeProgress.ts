/**
 * What the run-log writing thread has done, in memory shared with the thread that feeds it, so the
 * feeder can wait for room synchronously (its message sink cannot await) and, should the writer
 * fail, know the byte where the batches it acknowledged end.
 */
const ACKNOWLEDGED = 0;
const FAILED = 1;
const STOPPED = 2;
/** Byte ends of the last acknowledgements, by batch count modulo this; far more than batches ever in flight. */
const ENDS_KEPT = 64;

export class WriteProgress {
  private readonly flags: Int32Array;
  private readonly ends: Float64Array;

  constructor(readonly shared: SharedArrayBuffer = new SharedArrayBuffer(16 + 8 * ENDS_KEPT)) {
    this.flags = new Int32Array(shared, 0, 4);
    this.ends = new Float64Array(shared, 16, ENDS_KEPT);
  }

  /** Batches written, in order, since the start. */
  get acknowledged(): number {
    return Atomics.load(this.flags, ACKNOWLEDGED);
  }

  /** The byte where the first `batches` batches end. */
  endOf(batches: number): number {
    return this.ends[batches % ENDS_KEPT];
  }

  /** The writer: one more batch is written, up to byte `end`. */
  acknowledge(end: number): void {
    const batches = this.acknowledged + 1;
    this.ends[batches % ENDS_KEPT] = end; // before the count, which publishes it
    Atomics.store(this.flags, ACKNOWLEDGED, batches);
    Atomics.notify(this.flags, ACKNOWLEDGED);
  }

  get failed(): boolean {
    return Atomics.load(this.flags, FAILED) === 1;
  }

  fail(): void {
    Atomics.store(this.flags, FAILED, 1);
    Atomics.notify(this.flags, ACKNOWLEDGED);
  }

  /** The feeder took the writing over: the writer is to write nothing more. */
  get stopped(): boolean {
    return Atomics.load(this.flags, STOPPED) === 1;
  }

  stop(): void {
    Atomics.store(this.flags, STOPPED, 1);
  }

  /** Blocks while `acknowledged` is still `seen`, at most `ms`. */
  waitWhile(seen: number, ms: number): void {
    Atomics.wait(this.flags, ACKNOWLEDGED, seen, ms);
  }
}
