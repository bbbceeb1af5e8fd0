/**
 * The run store's series as the dashboard reads it: snapshot rows keep every bucket's extremes and
 * non-finite steps (truthful decimation), appends carry only new steps, and the per-layer range
 * query keeps maxima and blown-up layers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ALERT_SETTINGS } from '../../src/alerts/rules';
import { appendedRows, snapshotRows } from '../../src/dashboard/rows';
import { normSummary } from '../../src/dashboard/summary';
import { Run } from '../../src/runs/runStore';
import { Series } from '../../src/runs/series';

const SMALL = { recentSteps: 1000, envelopeBuckets: 64, layerValueBudget: 1_000_000 };

function fill(
  series: Series,
  from: number,
  count: number,
  value: (step: number) => number,
  layers?: (step: number) => number[] | undefined,
): void {
  for (let step = from; step < from + count; step++)
    series.append({ step, total: value(step), layers: layers?.(step) });
}

const noise = (step: number): number => 1 + ((step * 7919) % 1000) / 1000; // 1..2, deterministic

test('a single spike among 1,000,000 steps survives the envelope with its exact value and step', () => {
  const series = new Series(0);
  fill(series, 0, 1_000_000, (s) => (s === 123_457 ? 987.654321 : noise(s)));
  const rows = snapshotRows(series);
  assert.ok(rows.steps.length < 80_000, `bounded: ${rows.steps.length} rows`);
  let max = -Infinity;
  let maxStep = -1;
  rows.totals.forEach((v, i) => {
    if (v > max) [max, maxStep] = [v, rows.steps[i]];
  });
  assert.equal(max, 987.654321);
  assert.equal(maxStep, 123_457);
});

test('a bucket contributes its minimum as well as its maximum, each at its own step', () => {
  const series = new Series(0, SMALL);
  fill(series, 0, 5000, (s) => (s === 10 ? 0.001 : s === 20 ? 50 : 1));
  const rows = snapshotRows(series);
  const at = (step: number): number => rows.totals[rows.steps.indexOf(step)];
  assert.equal(at(10), 0.001);
  assert.equal(at(20), 50);
});

test('non-finite steps in folded history stay as rows of their own (NaN, +Infinity)', () => {
  const series = new Series(0, SMALL);
  fill(series, 0, 50_000, (s) => (s === 777 ? NaN : s === 4321 ? Infinity : noise(s)));
  const rows = snapshotRows(series);
  const nonFinite = [...rows.steps].filter((_, i) => !Number.isFinite(rows.totals[i]));
  assert.deepEqual(nonFinite, [777, 4321]);
  assert.ok(Number.isNaN(rows.totals[rows.steps.indexOf(777)]));
  assert.equal(rows.totals[rows.steps.indexOf(4321)], Infinity);
});

test('snapshot rows are in step order even when a bucket holds its maximum before its minimum', () => {
  const series = new Series(0, SMALL);
  fill(series, 0, 20_000, (s) => Math.sin(s) + 2);
  const rows = snapshotRows(series);
  for (let i = 1; i < rows.steps.length; i++) assert.ok(rows.steps[i] > rows.steps[i - 1], `row ${i}`);
});

test('appended rows are exactly the steps since the cursor, and a folded cursor asks for a snapshot', () => {
  const series = new Series(0, SMALL);
  fill(series, 0, 500, noise);
  const cursor = series.count;
  fill(series, 500, 30, (s) => s);
  const rows = appendedRows(series, cursor);
  assert.deepEqual(
    [...(rows?.steps ?? [])],
    Array.from({ length: 30 }, (_, i) => 500 + i),
  );
  assert.deepEqual(
    [...(rows?.totals ?? [])],
    Array.from({ length: 30 }, (_, i) => 500 + i),
  );
  assert.equal(appendedRows(series, series.count)?.steps.length, 0);
  fill(series, 530, 2000, noise); // the ring (1000) no longer holds step 500
  assert.equal(appendedRows(series, cursor), undefined);
});

test('loss and learning rate ride along, as bucket means for folded history', () => {
  const series = new Series(0, SMALL);
  for (let step = 0; step < 3000; step++) series.append({ step, total: 1, loss: step < 1500 ? 2 : 4, lr: 0.5 });
  const rows = snapshotRows(series);
  assert.ok(rows.losses && rows.lrs);
  assert.equal(rows.losses[0], 2);
  assert.equal(rows.lrs[0], 0.5);
  assert.equal(rows.losses[rows.losses.length - 1], 4);
  const noLoss = new Series(0, SMALL);
  fill(noLoss, 0, 10, noise);
  assert.equal(snapshotRows(noLoss).losses, undefined);
});

test('layerColumns keeps each layer maximum per slice, over envelope and recent steps alike', () => {
  const series = new Series(3, SMALL);
  fill(series, 0, 10_000, noise, (s) => [0.5, s === 2500 ? 900 : 1, s === 9990 ? 40 : 2]);
  const view = series.layerColumns(0, 9999, 10);
  const cell = (c: number, l: number): number => view[c * 3 + l];
  assert.equal(cell(2, 1), 900); // folded into the envelope long ago
  assert.equal(cell(9, 2), 40); // still raw
  assert.equal(cell(5, 0), 0.5);
  const zoomed = series.layerColumns(9980, 9999, 20);
  assert.equal(zoomed[10 * 3 + 2], 40);
  assert.equal(zoomed[11 * 3 + 2], 2);
});

test('layerColumns shows a non-finite layer as NaN and steps without layer norms as no data', () => {
  const series = new Series(2, SMALL);
  fill(series, 0, 100, noise, (s) => (s === 40 ? [1, NaN] : s >= 60 ? undefined : [1, 2]));
  const view = series.layerColumns(0, 99, 10);
  assert.ok(Number.isNaN(view[4 * 2 + 1]), 'layer 1 blew up in slice 4');
  assert.equal(view[4 * 2], 1);
  assert.equal(view[7 * 2], -Infinity, 'no layer norms reported after step 60');
  assert.equal(view[7 * 2 + 1], -Infinity);
  fill(series, 100, 3900, noise); // a long stretch without layer norms...
  fill(series, 4000, 5000, noise, () => [1, 2]); // ...folded into the envelope by later steps
  const folded = series.layerColumns(0, 3999, 4);
  assert.ok(Number.isNaN(folded[1]), 'the NaN layer of step 40 is still there');
  assert.equal(folded[2 * 2], -Infinity, 'steps 2000-2999: no data, not NaN, once folded');
  assert.equal(folded[2 * 2 + 1], -Infinity);
});

test('layerColumns handles steps that arrived out of order', () => {
  const series = new Series(1, SMALL);
  for (const step of [0, 1, 2, 10, 11, 5, 12]) series.append({ step, total: 1, layers: [step] });
  const view = series.layerColumns(5, 5, 1);
  assert.equal(view[0], 5);
  assert.equal(series.stepMin, 0);
  assert.equal(series.stepMax, 12);
});

test('steps without a measured norm: rows mark them, buckets keep their loss, statistics and alerts skip them', () => {
  const run = new Run('r', DEFAULT_ALERT_SETTINGS, SMALL, 0);
  // A loss-only stretch long enough to be folded into envelope buckets, then measured steps with one NaN.
  for (let step = 0; step < 3000; step++) run.step({ type: 'step', run_id: 'r', step, loss: 3 - step / 1000 });
  for (let step = 3000; step < 3010; step++)
    run.step({ type: 'step', run_id: 'r', step, total_norm: step === 3005 ? NaN : 1 + (step % 3), loss: 0.1 });
  const series = run.series()!;
  assert.ok(series.envelope.bucketCount > 0, 'the loss-only steps were folded into buckets');
  assert.equal(run.stepCount, 3010);
  assert.deepEqual(
    run.alerts.map((a) => [a.kind, a.step]),
    [['nonfinite', 3005]],
    'only the measured NaN alerts',
  );
  assert.equal(run.lastTotal, 1 + (3009 % 3));
  assert.deepEqual([...series.measuredTotals()].map(String), ['1', '2', '3', '1', '2', 'NaN', '1', '2', '3', '1']);
  const summary = normSummary(run, null);
  assert.equal(summary.median, 2, 'the median of the measured norms, not of zeros');

  const rows = snapshotRows(series);
  const unmeasured = rows.unmeasured!;
  const measuredSteps = [...rows.steps].filter((_, i) => unmeasured[i] === 0);
  assert.deepEqual(measuredSteps, [3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008, 3009]);
  const lossOnly = [...rows.steps].filter((_, i) => unmeasured[i] === 1);
  assert.ok(lossOnly.length >= series.envelope.bucketCount, 'every bucket of loss-only steps gives a row');
  assert.ok(
    lossOnly.every((_, i) => Number.isFinite(rows.losses![i])),
    'with its mean loss',
  );
  assert.equal(lossOnly[0], 0);
  assert.equal(appendedRows(series, series.count - 1)!.unmeasured, undefined, 'absent while every row measured one');

  const measuredOnly = new Series(0, SMALL);
  measuredOnly.append({ step: 1, total: 2 });
  assert.equal(snapshotRows(measuredOnly).unmeasured, undefined);
});
