import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunStore } from '../../src/runs/runStore';
import { Series } from '../../src/runs/series';
import { WindowBudget } from '../../src/runs/windowBudget';

const limits = { recentSteps: 10_000, envelopeBuckets: 64, layerValueBudget: 1_000_000 };

function filled(layers: number, steps: number, from = 0): Series {
  const s = new Series(layers, limits);
  for (let step = from; step < from + steps; step++)
    s.append({ step, total: step === 5 ? 1e6 : 1, layers: new Array(layers).fill(step === 7 ? NaN : 0.5) });
  return s;
}

describe('shared full-resolution budget', () => {
  test('narrowing a window folds its oldest steps into the envelope, keeping every step, the spike and the NaN', () => {
    const s = filled(10, 5000);
    s.limitLayerValues(10 * 1000);
    assert.equal(s.capacity, 1000);
    assert.equal(s.trim(1000), 3000, 'a slice at a time');
    assert.equal(s.trim(Infinity), 0);
    assert.equal(s.recentSize, 1000);
    assert.equal(s.stepAt(0), 4000, 'the newest steps stay raw');
    const points = s.points();
    assert.equal(
      points.reduce((n, p) => n + p.count, 0),
      5000,
    );
    assert.ok(points.some((p) => p.maxStep === 5 && p.max === 1e6));
    const layers = s.layerColumns(0, 4999, 1);
    assert.ok(Number.isNaN(layers[0]), 'the NaN layer of step 7 is still visible');
    for (let step = 5000; step < 7000; step++) s.append({ step, total: 1, layers: new Array(10).fill(0.5) });
    assert.equal(s.recentSize, 1000);
    assert.equal(s.stepAt(999), 6999);
  });

  test('a wrapped ring narrows in order, and widens again as steps arrive', () => {
    const s = filled(2, 10_000 + 300); // full ring, wrapped: its oldest point is not at index 0
    s.limitLayerValues(2 * 500);
    s.trim(Infinity);
    assert.deepEqual([s.stepAt(0), s.stepAt(499)], [9800, 10_299]);
    s.limitLayerValues(Infinity); // back to the series' own limits
    assert.equal(s.capacity, 10_000);
    for (let step = 10_300; step < 12_000; step++) s.append({ step, total: 1, layers: [1, 1] });
    assert.equal(s.recentSize, 2200);
    for (let k = 1; k < s.recentSize; k++) assert.equal(s.stepAt(k), s.stepAt(k - 1) + 1);
  });

  test('never narrower than the 256-step floor', () => {
    const s = filled(1000, 300);
    s.limitLayerValues(1);
    assert.equal(s.capacity, 256);
  });

  test('shares the budget among series, resizing all of them only when their count doubles or falls to a quarter', () => {
    const budget = new WindowBudget(4_000_000);
    const resized: number[] = [];
    const member = () => ({ layerCount: 100, limitLayerValues: (n: number) => resized.push(n), trim: () => 0 });
    const ms = Array.from({ length: 5 }, member);
    budget.add(ms[0]);
    assert.deepEqual(resized.splice(0), [4_000_000]);
    budget.add(ms[1]);
    assert.deepEqual(resized.splice(0), [2_000_000, 2_000_000]);
    budget.add(ms[2]);
    assert.deepEqual(resized.splice(0), [1_000_000, 1_000_000, 1_000_000]);
    budget.add(ms[3]);
    assert.deepEqual(resized.splice(0), [1_000_000], 'four fit in four slots: only the newcomer is sized');
    budget.remove(ms[3]);
    budget.remove(ms[2]);
    assert.deepEqual(resized.splice(0), [], 'half as many: no resize yet');
    budget.remove(ms[1]);
    assert.deepEqual(resized.splice(0), [4_000_000], 'a quarter: the rest widen');
    budget.add({
      layerCount: 0,
      limitLayerValues: () => assert.fail('a series without layers holds no layer values'),
      trim: () => 0,
    });
    assert.equal(budget.size, 1);
  });

  test('narrowed windows are folded a slice per event-loop turn, and are then within their share', async () => {
    const budget = new WindowBudget(2_000_000);
    const full = [filled(100, 10_000), filled(100, 10_000)];
    for (const s of full) budget.add(s);
    assert.deepEqual(
      full.map((s) => s.capacity),
      [10_000, 10_000],
    );
    budget.add(filled(100, 10));
    budget.add(filled(100, 10));
    assert.deepEqual(
      full.map((s) => [s.capacity, s.recentSize]),
      [
        [5000, 10_000],
        [5000, 10_000],
      ],
      'nothing folded during the add',
    );
    let turns = 0;
    while (full.some((s) => s.recentSize > 5000)) {
      await new Promise((r) => setImmediate(r));
      turns++;
      assert.ok(turns < 100);
    }
    assert.ok(turns >= 2, `1,000,000 values to fold take more than one turn (${turns})`);
    for (const s of full) {
      assert.equal(s.count, 10_000);
      assert.equal(
        s.points().reduce((n, p) => n + p.count, 0),
        10_000,
      );
      assert.equal(s.stepAt(0), 5000);
    }
  });

  test("a store keeps 64 runs within its budget and gives a dropped run's share back", () => {
    const store = new RunStore({ windowBudget: 1_000_000, series: limits, maxRuns: 64 });
    for (let r = 0; r < 64; r++) {
      const run = store.getOrCreate(`r${r}`);
      for (let step = 0; step < 200; step++)
        run.step({ type: 'step', run_id: run.id, step, total_norm: 1, layer_norms: new Array(100).fill(1) });
    }
    const windows = store.all().map((r) => r.series()!.capacity * 100);
    assert.ok(
      windows.every((w) => w === 25_600),
      'each at the floor of 256 steps',
    );
    const total = (): number => store.all().reduce((n, r) => n + r.series()!.capacity * 100, 0);
    assert.ok(total() <= 64 * 25_600);
    for (let r = 0; r < 63; r++) store.delete(`r${r}`);
    assert.equal(store.get('r63')!.series()!.capacity, 10_000, 'alone again: its own limits apply');
  });

  test('a turn folds up to its slice across several narrowed windows, not one window a turn', async () => {
    const budget = new WindowBudget(64 * 100 * 1000);
    const series = Array.from({ length: 64 }, () => filled(100, 1000, 0));
    for (const s of series) budget.add(s);
    budget.add(filled(100, 10)); // 65 series: 128 slots, every window halves to 500 steps
    let turns = 0;
    while (series.some((s) => s.recentSize > 500)) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    // 64 x 500 steps x 100 layers = 3.2 million values: 7 slices of 500,000, not 64 turns.
    assert.ok(turns <= 8, `${turns} turns`);
  });
});
