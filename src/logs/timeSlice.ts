/**
 * Cooperative time slicing for long synchronous loops (replaying, importing): every few
 * milliseconds the loop gives the event loop a turn, so reading a large log never stalls the
 * extension host, and an abort takes effect promptly.
 */
export class TimeSlicer {
  private sliceStart = performance.now();

  constructor(
    private readonly sliceMs = 10,
    private readonly signal?: AbortSignal,
  ) {}

  /** Call inside the loop; resolves at once while the slice lasts, after one event-loop turn otherwise. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.signal?.throwIfAborted();
    this.sliceStart = performance.now();
  }
}
