import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { RunLimitError, RunStore } from '../../src/runs/runStore';
import { Envelope } from '../../src/runs/envelope';
import { Series } from '../../src/runs/series';
import { StepSet } from '../../src/runs/stepSet';
import { niceCeil, normStats, suggestMaxNorm } from '../../src/runs/stats';

const limits = { recentSteps: 1000, envelopeBuckets: 64, layerValueBudget: 1_000_000 };

describe('bounded series', () => {
  test('a million steps keep fixed memory, the spike, its step and the NaN', () => {
    const s = new Series(4, limits);
    const spikeAt = 123_457;
    const nanAt = 654_321;
    for (let step = 0; step < 1_000_000; step++) {
      const total = step === spikeAt ? 1e6 : step === nanAt ? NaN : 1 + (step % 7) * 0.01;
      s.append({ step, total, layers: [total, 1, 1, 1] });
    }
    assert.equal(s.count, 1_000_000);
    assert.equal(s.recentSize, 1000);
    assert.ok(s.envelope.bucketCount <= 64);
    const points = s.points();
    assert.ok(points.length <= 64 + 1000);
    const top = points.reduce((a, b) => (b.max > a.max ? b : a));
    assert.equal(top.max, 1e6);
    assert.equal(top.maxStep, spikeAt);
    const nan = points.filter((p) => p.nonFiniteStep >= 0);
    assert.equal(nan.length, 1);
    assert.equal(nan[0].nonFiniteStep, nanAt);
    assert.ok(Number.isNaN(nan[0].nonFiniteValue));
    // Buckets tile the history in order with no gaps.
    const total = points.reduce((n, p) => n + p.count, 0);
    assert.equal(total, 1_000_000);
    for (let i = 1; i < points.length; i++) assert.ok(points[i].stepFirst > points[i - 1].stepLast);
  });

  test('layer maxima in the envelope keep a blown-up layer', () => {
    const s = new Series(2, { recentSteps: 256, envelopeBuckets: 8, layerValueBudget: 1e6 });
    for (let step = 0; step < 5000; step++) s.append({ step, total: 1, layers: [1, step === 10 ? Infinity : 0.5] });
    const firstBucket = s.envelope.layerMaxima(0);
    assert.equal(firstBucket[0], 1);
    assert.equal(firstBucket[1], Infinity, 'an infinite layer value is the maximum of its bucket');
  });

  test('bucket layer maxima: the largest value, or NaN once a NaN or -Infinity was seen (property)', () => {
    const value = fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity));
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 40 }),
        (rows) => {
          const envelope = new Envelope(4, 3);
          for (const [i, row] of rows.entries()) envelope.add(i, 1, Float32Array.from(row), 0);
          const width = envelope.bucketWidth;
          for (let b = 0; b < envelope.bucketCount; b++) {
            const inBucket = rows.slice(b * width, (b + 1) * width).map((r) => Float32Array.from(r));
            for (let l = 0; l < 3; l++) {
              const column = inBucket.map((r) => r[l]);
              const expected = column.some((v) => Number.isNaN(v) || v === -Infinity) ? NaN : Math.max(...column);
              assert.ok(
                Object.is(envelope.layerMaxima(b)[l], expected),
                `bucket ${b} layer ${l}: ${envelope.layerMaxima(b)[l]} vs ${expected}`,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('layer arrays of the wrong length: missing values are NaN, extra ones dropped', () => {
    const s = new Series(3, limits);
    s.append({ step: 0, total: 1, layers: [1, 2, 3, 4] });
    s.append({ step: 1, total: 1, layers: [5] });
    s.append({ step: 2, total: 1 });
    assert.deepEqual(Array.from(s.recent(0).layers!), [1, 2, 3]);
    assert.deepEqual(Array.from(s.recent(1).layers!), [5, NaN, NaN]);
    assert.deepEqual(Array.from(s.recent(2).layers!), [NaN, NaN, NaN]);
  });

  test('recent points round-trip every field', () => {
    const s = new Series(2, limits);
    s.append({ step: 7, total: 2, layers: [1, 3], loss: 0.5, lr: 1e-3, clipped: true, skipped: true });
    s.append({ step: 8, total: 1 });
    const p = s.recent(0);
    assert.equal(p.step, 7);
    assert.deepEqual(Array.from(p.layers!), [1, 3]);
    assert.deepEqual([p.loss, p.lr, p.clipped, p.skipped], [0.5, 1e-3, true, true]);
    const q = s.recent(1);
    assert.equal(q.loss, undefined);
    assert.ok(Number.isNaN(q.layers![0]), 'missing layer values are NaN, not zero');
  });

  test('very wide models get a shorter full-resolution window', () => {
    const s = new Series(10_000, { recentSteps: 65_536, envelopeBuckets: 16, layerValueBudget: 1_000_000 });
    assert.equal(s.capacity, 256);
  });
});

describe('step set', () => {
  test('dedupes sparse and dense steps', () => {
    const set = new StepSet();
    assert.ok(set.add(0));
    assert.ok(!set.add(0));
    assert.ok(set.add(9_999_999_999));
    assert.ok(set.has(9_999_999_999));
    assert.ok(!set.has(1));
    assert.equal(set.size, 2);
    assert.equal(set.pageCount, 2);
  });
});

describe('run store', () => {
  test('duplicate (step, rank) is stored once; ranks are separate', () => {
    const store = new RunStore();
    const run = store.getOrCreate('r');
    assert.ok(run.step({ type: 'step', run_id: 'r', step: 1, total_norm: 1 }));
    assert.equal(run.step({ type: 'step', run_id: 'r', step: 1, total_norm: 1 }), undefined);
    assert.ok(run.step({ type: 'step', run_id: 'r', step: 1, total_norm: 1, rank: 1 }));
    assert.equal(run.stepCount, 1);
    assert.deepEqual(run.ranks, [0, 1]);
  });

  test('the primary rank is the lowest rank seen, whichever came first', () => {
    const run = new RunStore().getOrCreate('r');
    run.step({ type: 'step', run_id: 'r', step: 0, total_norm: 100, rank: 2 });
    assert.equal(run.primaryRank, 2);
    run.step({ type: 'step', run_id: 'r', step: 0, total_norm: 1, rank: 0 });
    run.step({ type: 'step', run_id: 'r', step: 1, total_norm: 1, rank: 1 });
    assert.equal(run.primaryRank, 0);
    assert.equal(run.lastTotal, 1, 'the primary rank drives the latest value');
  });

  test('keeps at most maxRuns, dropping finished runs first and never live ones', () => {
    const store = new RunStore({ maxRuns: 2 });
    store.getOrCreate('a').end({ type: 'run_end', run_id: 'a', status: 'completed' });
    store.getOrCreate('b');
    store.getOrCreate('c');
    assert.deepEqual(
      store
        .all()
        .map((r) => r.id)
        .sort(),
      ['b', 'c'],
    );
    assert.throws(() => store.getOrCreate('d'), RunLimitError);
  });

  test('layer names come from the first run_start that names them', () => {
    const run = new RunStore().getOrCreate('r');
    run.start({ type: 'run_start', run_id: 'r', layers: ['a'], threshold: 3 });
    run.start({ type: 'run_start', run_id: 'r', layers: ['b'], meta: { rank: 1 } });
    assert.deepEqual(run.layers, ['a']);
    assert.equal(run.threshold, 3);
    assert.deepEqual(run.meta, { rank: 1 });
  });
});

describe('norm statistics', () => {
  test('median, p99 and non-finite counts', () => {
    const s = normStats([1, 2, 3, NaN, 4, Infinity]);
    assert.deepEqual([s.count, s.nonFinite, s.min, s.max, s.median], [6, 2, 1, 4, 2.5]);
  });

  test('suggested max_norm ignores explosions and rounds up to a nice number', () => {
    const norms = Array.from({ length: 500 }, (_, i) => 0.8 + (0.4 * ((i * 37) % 100)) / 100);
    norms[250] = 1e4;
    norms[300] = NaN;
    assert.equal(suggestMaxNorm(norms), 2);
    assert.equal(suggestMaxNorm([1, 2, 3]), undefined);
  });

  test('nice numbers', () => {
    assert.deepEqual([0.7, 1, 1.2, 2.2, 3, 7, 0.013, 1234].map(niceCeil), [1, 1, 2, 2.5, 5, 10, 0.02, 2000]);
  });
});
