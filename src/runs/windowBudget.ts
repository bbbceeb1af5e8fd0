/**
 * One budget of per-layer values held at full resolution, shared by every series of a store. Each
 * series' own limits (series.ts) bound one run; without a shared budget 64 runs of 100 layers held
 * 64 full windows (26 MB each, 1.7 GB together). With it, a few runs keep their full windows and
 * many runs get narrower ones, never narrower than a series' floor (capacityFor's 256 steps): the
 * total stays near the budget however many runs stream (see BENCHMARKS.md, "Ingest").
 *
 * The share is the budget divided by the number of series rounded up to a power of two, so it only
 * changes (and every series is resized) when that count doubles, or falls to a quarter: adding or
 * dropping a series costs O(1) amortized, and a count going back and forth over a power of two does
 * not resize everything each time. Narrowed windows fold their oldest steps into their envelopes in
 * slices, one per event-loop turn: halving the windows of a full budget folds 8 million values
 * (about 70 ms of work), more than the endpoint may keep the loop busy.
 */

/** What the budget needs of a series (see Series.limitLayerValues and Series.trim). */
export interface BudgetedWindow {
  readonly layerCount: number;
  limitLayerValues(layerValues: number): void;
  /** Folds at most this many points beyond the window; returns how many are left. */
  trim(points: number): number;
}

/** Full-resolution layer values kept across all runs by default: two full 65,536-step windows of 100 layers (64 MB). */
export const DEFAULT_WINDOW_BUDGET = 16_000_000;
/** Layer values folded per event-loop turn while narrowed windows shrink: about 4 ms of work. */
const TRIM_VALUES_PER_TURN = 500_000;

export class WindowBudget {
  private readonly members = new Set<BudgetedWindow>();
  /** Series count the current share is computed for: a power of two, at least the member count. */
  private slots = 1;
  /** Members whose window was narrowed and still hold points beyond it. */
  private readonly untrimmed = new Set<BudgetedWindow>();
  private trimming = false;

  constructor(readonly layerValues: number = DEFAULT_WINDOW_BUDGET) {}

  /** Per-layer values each series may hold at full resolution now. */
  get share(): number {
    return Math.floor(this.layerValues / this.slots);
  }

  get size(): number {
    return this.members.size;
  }

  /** Counts a series in and narrows its window to its share (and everyone's, when the count doubled). */
  add(w: BudgetedWindow): void {
    if (w.layerCount === 0 || this.members.has(w)) return; // no layer values: nothing to share
    this.members.add(w);
    if (this.members.size > this.slots) this.refit();
    else this.limit(w, this.share);
  }

  /** Counts a dropped series out; the others' windows widen once the count fell to a quarter. */
  remove(w: BudgetedWindow): void {
    if (!this.members.delete(w)) return;
    this.untrimmed.delete(w);
    if (this.slots > 1 && this.members.size <= this.slots / 4) this.refit();
  }

  /** Slots: the member count rounded up to a power of two; every member gets the new share. */
  private refit(): void {
    this.slots = 1;
    while (this.members.size > this.slots) this.slots *= 2;
    const share = this.share;
    for (const w of this.members) this.limit(w, share);
  }

  private limit(w: BudgetedWindow, share: number): void {
    w.limitLayerValues(share);
    if (w.trim(0) === 0) return;
    this.untrimmed.add(w);
    if (!this.trimming) {
      this.trimming = true;
      setImmediate(() => this.trimSlice());
    }
  }

  /** One turn's slice of folding; another turn follows while some window is still too wide. */
  private trimSlice(): void {
    let values = TRIM_VALUES_PER_TURN;
    for (const w of this.untrimmed) {
      const excess = w.trim(0);
      const left = w.trim(Math.min(excess, Math.ceil(values / w.layerCount)));
      if (left === 0) this.untrimmed.delete(w);
      values -= (excess - left) * w.layerCount;
      if (values <= 0) break;
    }
    if (this.untrimmed.size > 0) setImmediate(() => this.trimSlice());
    else this.trimming = false;
  }
}
