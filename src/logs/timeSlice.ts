/**
 * Cooperative time slicing for long synchronous loops (reading, importing, replaying): every few
 * milliseconds the loop gives the event loop a turn, so reading a large log never stalls the
 * extension host, and an abort takes effect promptly. Checking is cheap enough for every iteration:
 * the clock is read once per 64 calls.
 *
 *   if (slicer.due()) await slicer.yieldTurn();
 */
export class TimeSlicer {
  private sliceStart = performance.now();
  private calls = 0;

  constructor(
    private readonly sliceMs = 8,
    private readonly signal?: AbortSignal,
  ) {}

  due(): boolean {
    return (++this.calls & 63) === 0 && performance.now() - this.sliceStart >= this.sliceMs;
  }

  async yieldTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.signal?.throwIfAborted();
    this.sliceStart = performance.now();
  }
}
