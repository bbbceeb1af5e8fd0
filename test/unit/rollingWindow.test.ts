import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RollingWindow } from '../../src/alerts/rollingWindow';

function sortedMedian(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) >> 1] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

test('median and MAD equal a full sort of the last N values after every push', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      // Few distinct values make ties (and equal neighbours on both sides of the median) common.
      fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { minLength: 1, maxLength: 60 }),
      (capacity, values) => {
        const w = new RollingWindow(capacity);
        values.forEach((v, i) => {
          w.push(v);
          const last = values.slice(Math.max(0, i + 1 - capacity), i + 1);
          assert.equal(w.size, last.length);
          const median = sortedMedian(last);
          // `+ 0` turns -0 into 0: the two zeros may sit in either order, and are the same number.
          assert.equal(w.median() + 0, median + 0);
          assert.equal(w.medianAbsoluteDeviation(median) + 0, sortedMedian(last.map((x) => Math.abs(x - median))) + 0);
        });
      },
    ),
    { numRuns: 500 },
  );
});
