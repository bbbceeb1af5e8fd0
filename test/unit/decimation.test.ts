/**
 * The webview's min/max decimation as rows arrive: the same points as building it over all rows at
 * once, every extreme of every pixel column kept, at most about 4 points per pixel, and rebuilt
 * when rows change other than at the end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decimator } from '../../webview/decimation';
import { Point, RunData } from '../../webview/runData';
import { RunHeader } from '../../src/shared/webviewProtocol';

function series(n: number, seed = 1): Point[] {
  let s = seed;
  const random = (): number => (s = (s * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: n }, (_, i) => ({ x: i * 3, y: random() * (i % 997 === 0 ? 100 : 1), step: i * 3 }));
}

test('decimating as rows arrive gives what decimating them all at once gives', () => {
  const all = series(60_000);
  const growing = new Decimator<Point>();
  for (let n = 40_000; n <= all.length; n += 977) {
    const rows = all.slice(0, n);
    const to = rows[n - 1].x;
    const incremental = growing.decimate(rows, 0, 0, to, 500);
    assert.deepEqual(incremental, new Decimator<Point>().decimate(rows, 0, 0, to, 500), `after ${n} rows`);
  }
});

test('every value is drawn within 1.2 px of its step, at most 4 points a pixel, in step order', () => {
  const rows = series(100_000);
  const width = 800;
  const from = 30_000;
  const to = 250_000;
  const drawn = new Decimator<Point>().decimate(rows, 0, from, to, width);
  assert.ok(drawn.length <= 4 * width + 8, `${drawn.length} points for ${width} px`);
  assert.ok(
    drawn.every((p, i) => i === 0 || drawn[i - 1].x < p.x),
    'sorted by step',
  );
  assert.ok(drawn[0].x < from && drawn[drawn.length - 1].x > to, 'the line reaches both edges');
  const kept = new Set(rows);
  assert.ok(
    drawn.every((p) => kept.has(p)),
    'drawn points are the rows themselves',
  );
  // The line's vertical extent near each row covers its value: a drawn point at least as high and one at least as low.
  const near = 1.2 * ((to - from) / width);
  let j = 0;
  for (const p of rows) {
    if (p.x < from || p.x > to) continue;
    while (drawn[j].x < p.x - near) j++;
    let high = false;
    let low = false;
    for (let k = j; k < drawn.length && drawn[k].x <= p.x + near; k++) {
      high ||= drawn[k].y >= p.y;
      low ||= drawn[k].y <= p.y;
    }
    assert.ok(high && low, `step ${p.x} (${p.y}) is inside the drawn extent near it`);
  }
});

test('few rows in view are drawn whole; a rewrite or a zoom starts the buckets over', () => {
  const rows = series(5_000);
  const d = new Decimator<Point>();
  assert.deepEqual(
    d.decimate(rows, 0, 300, 600, 1000),
    rows.slice(99, 202),
    'steps 300..600 and one row beyond each end',
  );
  const before = d.decimate(rows, 0, 0, rows[rows.length - 1].x, 100);
  rows[10] = { x: 30, y: 1000, step: 30 }; // a late step's new value
  const after = d.decimate(rows, 1, 0, rows[rows.length - 1].x, 100);
  assert.ok(!before.includes(rows[10]) && after.includes(rows[10]), 'the rewritten row is drawn');
  const zoomed = d.decimate(rows, 1, 0, 3000, 100);
  assert.deepEqual(zoomed, new Decimator<Point>().decimate(rows, 1, 0, 3000, 100));
});

test('RunData counts rewrites (snapshots, late steps), not appends, and keeps its maximum as rows arrive', () => {
  const header: RunHeader = {
    id: 'r',
    name: 'r',
    state: 'live',
    steps: 0,
    alertCount: 0,
    updatedAt: 0,
    layers: ['a'],
    threshold: 10,
    rank: 0,
    ranks: [0],
    firstStep: 0,
    lastStep: 0,
    nonFinite: 0,
    firstNonFinite: null,
  };
  const data = new RunData();
  const rows = (steps: number[], totals: number[]) => ({
    steps: Float64Array.from(steps),
    totals: Float64Array.from(totals),
  });
  data.load({
    type: 'snapshot',
    run: header,
    rows: rows([0, 1, 2], [1, 5, 2]),
    alerts: [],
    summary: { median: null, p99: null, window: 0, steps: 0, stepsPerSecond: null, clipRate: null, clipWindow: 0 },
    bucketWidth: 1,
  });
  const loaded = data.rewrites;
  assert.equal(data.maxPoint()?.step, 1);
  data.append({ run: header, rows: rows([3, 4], [7, 1]), alerts: [] });
  assert.equal(data.rewrites, loaded, 'appends at the end are no rewrite');
  assert.equal(data.maxPoint()?.step, 3);
  data.append({ run: header, rows: rows([3], [0.5]), alerts: [] });
  assert.equal(data.rewrites, loaded + 1, 'a resent step is one');
  assert.equal(data.maxPoint()?.step, 1, 'the replaced maximum is gone');
  assert.equal(data.header?.layers, header.layers, 'the layer list keeps its identity across updates');
});
