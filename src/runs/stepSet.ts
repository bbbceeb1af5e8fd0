/**
 * Set of step numbers seen for one (run, rank): a paged bitmap, one bit per step, so dedupe for a
 * 10,000,000-step run costs about 1.2 MB and pages appear only where steps were actually seen.
 * A page starts as a small sorted list and becomes a bitmap once it holds enough steps to pay for
 * one: steps scattered far apart (a client sending timestamps as steps, or a hostile one) cost a
 * few bytes each instead of a whole 8 KiB page each.
 */
const PAGE_BITS = 16; // 65,536 steps per page
const PAGE_SIZE = 1 << PAGE_BITS;
/** A bitmap page is PAGE_SIZE / 8 bytes; a sparse page holding this many 4-byte offsets costs about as much. */
const SPARSE_MAX = PAGE_SIZE / 32 / 4;

type Page = Uint32Array | number[]; // bitmap, or sorted offsets while sparse

export class StepSet {
  private readonly pages = new Map<number, Page>();
  size = 0;

  /** Adds a step; returns false when it was already there. */
  add(step: number): boolean {
    const pageIndex = Math.floor(step / PAGE_SIZE);
    const offset = step - pageIndex * PAGE_SIZE;
    const page = this.pages.get(pageIndex);
    if (page === undefined) {
      this.pages.set(pageIndex, [offset]);
    } else if (page instanceof Uint32Array) {
      const word = offset >>> 5;
      const bit = 1 << (offset & 31);
      if (page[word] & bit) return false;
      page[word] |= bit;
    } else {
      const at = lowerBound(page, offset);
      if (page[at] === offset) return false;
      page.splice(at, 0, offset);
      if (page.length > SPARSE_MAX) this.pages.set(pageIndex, toBitmap(page));
    }
    this.size++;
    return true;
  }

  has(step: number): boolean {
    const pageIndex = Math.floor(step / PAGE_SIZE);
    const page = this.pages.get(pageIndex);
    if (page === undefined) return false;
    const offset = step - pageIndex * PAGE_SIZE;
    if (page instanceof Uint32Array) return (page[offset >>> 5] & (1 << (offset & 31))) !== 0;
    return page[lowerBound(page, offset)] === offset;
  }

  /** Pages allocated, for memory accounting and limits. */
  get pageCount(): number {
    return this.pages.size;
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toBitmap(offsets: readonly number[]): Uint32Array {
  const page = new Uint32Array(PAGE_SIZE / 32);
  for (const o of offsets) page[o >>> 5] |= 1 << (o & 31);
  return page;
}
