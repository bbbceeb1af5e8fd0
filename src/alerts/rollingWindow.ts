/**
 * The last N values with their median and median absolute deviation, kept in sorted order as they
 * arrive (binary search + shift), so each step costs O(N) without sorting or allocating. The spike
 * rule asks for both on every step; sorting the window each time made it the slowest part of
 * ingesting and replaying runs.
 */
export class RollingWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  size = 0;

  constructor(capacity: number) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  /** Adds a value (finite), dropping the oldest one when full. */
  push(value: number): void {
    if (this.size === this.ring.length) this.removeSorted(this.ring[this.next]);
    else this.size++;
    this.ring[this.next] = value;
    this.next = (this.next + 1) % this.ring.length;
    this.insertSorted(value);
  }

  median(): number {
    const n = this.size;
    const s = this.sorted;
    return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /**
   * Median of |v - center| over the window. The deviations of the values below and above center
   * are each already ordered (walking outwards from center), so merging the two walks yields them
   * in ascending order without a sort.
   */
  medianAbsoluteDeviation(center: number): number {
    const n = this.size;
    const s = this.sorted;
    const upper = this.lowerBound(center, n); // first index with value >= center
    let left = upper - 1;
    let right = upper;
    const take = (): number => {
      if (right >= n || (left >= 0 && center - s[left] <= s[right] - center)) return center - s[left--];
      return s[right++] - center;
    };
    const lowMid = (n - 1) >> 1;
    for (let k = 0; k < lowMid; k++) take();
    const a = take();
    return n % 2 ? a : (a + take()) / 2;
  }

  private insertSorted(value: number): void {
    const count = this.size - 1; // values already in `sorted`
    const at = this.lowerBound(value, count);
    this.sorted.copyWithin(at + 1, at, count);
    this.sorted[at] = value;
  }

  private removeSorted(value: number): void {
    const at = this.lowerBound(value, this.size);
    this.sorted.copyWithin(at, at + 1, this.size);
  }

  /** First index in sorted[0, end) whose value is >= value. */
  private lowerBound(value: number, end: number): number {
    let lo = 0;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
