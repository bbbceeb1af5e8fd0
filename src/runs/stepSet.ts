/**
 * Set of step numbers seen for one (run, rank): a paged bitmap, one bit per step, so dedupe for a
 * 10,000,000-step run costs about 1.2 MB and pages appear only where steps were actually seen.
 */
const PAGE_BITS = 16; // 65,536 steps per page
const PAGE_SIZE = 1 << PAGE_BITS;

export class StepSet {
  private readonly pages = new Map<number, Uint32Array>();
  size = 0;

  /** Adds a step; returns false when it was already there. */
  add(step: number): boolean {
    const pageIndex = Math.floor(step / PAGE_SIZE);
    const offset = step - pageIndex * PAGE_SIZE;
    let page = this.pages.get(pageIndex);
    if (!page) {
      page = new Uint32Array(PAGE_SIZE / 32);
      this.pages.set(pageIndex, page);
    }
    const word = offset >>> 5;
    const bit = 1 << (offset & 31);
    if (page[word] & bit) return false;
    page[word] |= bit;
    this.size++;
    return true;
  }

  has(step: number): boolean {
    const pageIndex = Math.floor(step / PAGE_SIZE);
    const page = this.pages.get(pageIndex);
    if (!page) return false;
    const offset = step - pageIndex * PAGE_SIZE;
    return (page[offset >>> 5] & (1 << (offset & 31))) !== 0;
  }

  /** Pages allocated, for memory accounting and limits. */
  get pageCount(): number {
    return this.pages.size;
  }
}
