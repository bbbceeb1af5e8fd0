/**
 * The pure parts of the dashboard webview and the shared protocol: the webview's run data, marker
 * thinning, layer ranking, color scale, step windows and message checks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { follows, resolveWindow, windowAfterZoom } from '../../src/shared/stepWindow';
import { fromWire, parseWebviewMessage, RunHeader, SnapshotMessage, toWire } from '../../src/shared/webviewProtocol';
import {
  fromHsl,
  logPosition,
  parseColor,
  positiveRange,
  ramp,
  RAMP_STEPS,
  rampTable,
  toHsl,
} from '../../webview/colorScale';
import { rankLayers, topLayers } from '../../webview/layerRanking';
import { dedupeByPixel } from '../../webview/pixelDedupe';
import { insertByStep, Point, RunData } from '../../webview/runData';

const header = (over: Partial<RunHeader> = {}): RunHeader => ({
  id: 'r',
  name: 'r',
  state: 'live',
  steps: 0,
  alertCount: 0,
  updatedAt: 0,
  layers: [],
  threshold: 10,
  rank: 0,
  ranks: [0],
  firstStep: 0,
  lastStep: 0,
  nonFinite: 0,
  firstNonFinite: null,
  ...over,
});

function snapshot(steps: number[], totals: number[], over: Partial<SnapshotMessage> = {}): SnapshotMessage {
  return {
    type: 'snapshot',
    run: header({ firstStep: steps[0], lastStep: steps[steps.length - 1] }),
    rows: { steps: Float64Array.from(steps), totals: Float64Array.from(totals) },
    alerts: [],
    summary: { median: null, p99: null, window: 0, steps: 0, stepsPerSecond: null, clipRate: null, clipWindow: 0 },
    bucketWidth: 1,
    ...over,
  };
}

test('RunData keeps finite norms for the line and non-finite steps apart as markers', () => {
  const data = new RunData();
  data.load(snapshot([0, 1, 2, 3, 4], [1, NaN, 3, Infinity, 2]));
  assert.deepEqual(
    data.norms.map((p) => [p.x, p.y]),
    [
      [0, 1],
      [2, 3],
      [4, 2],
    ],
  );
  assert.deepEqual(
    data.nonFinite.map((p) => p.step),
    [1, 3],
  );
  assert.deepEqual(data.maxPoint(), { x: 2, y: 3, step: 2 });
  assert.deepEqual(data.latest(), { x: 4, y: 2, step: 4 });
  data.append({
    run: header({ lastStep: 6 }),
    rows: { steps: Float64Array.of(5, 6), totals: Float64Array.of(9, -Infinity) },
    alerts: [{ kind: 'threshold', step: 5, value: 9, message: 'm' }],
  });
  assert.equal(data.maxPoint()?.y, 9);
  assert.deepEqual(
    data.nonFinite.map((p) => p.step),
    [1, 3, 6],
  );
  assert.equal(data.latest()?.step, 6, 'the latest step may be non-finite');
  assert.equal(data.latest()?.y, -Infinity);
  assert.equal(data.lastStep, 6);
  assert.equal(data.alerts[0].value, 9);
});

test('RunData of a loss-only run: the loss is drawn, no norm point, and it knows no norm was logged', () => {
  const data = new RunData();
  data.load(
    snapshot([10, 20, 30], [NaN, NaN, NaN], {
      rows: {
        steps: Float64Array.of(10, 20, 30),
        totals: Float64Array.of(NaN, NaN, NaN),
        losses: Float64Array.of(2, 1.5, 1.2),
        unmeasured: Uint8Array.of(1, 1, 1),
      },
    }),
  );
  assert.deepEqual([data.norms.length, data.nonFinite.length], [0, 0], 'not measured is not non-finite');
  assert.deepEqual(
    data.losses.map((p) => [p.x, p.y]),
    [
      [10, 2],
      [20, 1.5],
      [30, 1.2],
    ],
  );
  assert.equal(data.hasNorms, false);
  assert.equal(data.maxPoint(), undefined);
  assert.deepEqual([data.firstStep, data.lastStep], [10, 30]);
  data.append({
    run: header({ lastStep: 40 }),
    rows: { steps: Float64Array.of(40), totals: Float64Array.of(NaN), unmeasured: Uint8Array.of(0) },
    alerts: [],
  });
  assert.equal(data.hasNorms, true, 'a NaN norm that was measured is one');
});

test('RunData takes the run extent from the header: buckets of old steps begin before their extremes', () => {
  const data = new RunData();
  data.load({ ...snapshot([59, 120], [1, 2]), run: header({ firstStep: 0, lastStep: 127 }) });
  assert.deepEqual([data.firstStep, data.lastStep], [0, 127]);
});

test('late steps are inserted in order and a resent step replaces its value', () => {
  const points: Point[] = [];
  for (const x of [1, 2, 5, 3, 9, 0, 5]) insertByStep(points, { x, y: x * 10, step: x });
  assert.deepEqual(
    points.map((p) => p.x),
    [0, 1, 2, 3, 5, 9],
  );
});

test('dedupeByPixel keeps one marker per pixel column in view, the first of each', () => {
  const markers = Array.from({ length: 10_000 }, (_, i) => ({ x: 500_000 + i }));
  const kept = dedupeByPixel(markers, 0, 1_000_000, 1000, 3);
  assert.equal(kept.length, 4, 'steps 500000-509999 span about 10 px: 4 columns of 3 px');
  assert.equal(kept[0].x, 500_000);
  const zoomed = dedupeByPixel(markers, 500_000, 500_100, 1000, 3);
  assert.equal(zoomed.length, 101, 'zoomed in, every step gets its marker');
  assert.deepEqual(dedupeByPixel([{ x: 5 }], 10, 20, 100), [], 'out of view');
  assert.deepEqual(
    dedupeByPixel([{ x: 5 }, { x: 999_999 }], 0, 1_000_000, 1000),
    [{ x: 5 }, { x: 999_999 }],
    'isolated steps are never dropped',
  );
});

test('layer ranking: non-finite layers first (earliest first), then by largest value', () => {
  // 3 columns × 4 layers
  const v = Float32Array.from([1, 2, 3, 0.5, 1, NaN, 3, 0.5, Infinity, 2, 30, -Infinity]);
  assert.deepEqual(
    rankLayers(v, 3, 4).map((r) => r.layer),
    [1, 0, 2, 3],
  );
  assert.deepEqual(
    topLayers(v, 3, 4, 2).map((r) => r.layer),
    [1, 0],
  );
  const empty = Float32Array.from([-Infinity, 1]);
  assert.deepEqual(
    topLayers(empty, 1, 2, 5).map((r) => r.layer),
    [1],
    'a layer without data is not drawn',
  );
});

test('color scale: theme colors parse, log positions spread decades evenly', () => {
  assert.deepEqual(parseColor('#3794ff'), [0x37, 0x94, 0xff]);
  assert.deepEqual(parseColor('#fff'), [255, 255, 255]);
  assert.deepEqual(parseColor('#1e1e1ecc'), [30, 30, 30]);
  assert.deepEqual(parseColor('rgba(204, 204, 204, 0.2)'), [204, 204, 204]);
  assert.equal(parseColor('var(--x)'), undefined);
  assert.equal(logPosition(10, 1, 100), 0.5);
  assert.equal(logPosition(0, 1, 100), 0);
  const round = (c: number[]): number[] => c.map((v) => Math.round(v));
  assert.deepEqual(
    round(
      ramp(
        [
          [0, 0, 255],
          [255, 255, 0],
        ],
        0,
      ),
    ),
    [0, 0, 255],
  );
  assert.deepEqual(
    round(
      ramp(
        [
          [0, 0, 255],
          [255, 255, 0],
        ],
        1,
      ),
    ),
    [255, 255, 0],
  );
  const [hue, saturation] = toHsl(
    ramp(
      [
        [0, 0, 255],
        [255, 255, 0],
      ],
      0.5,
    ),
  );
  assert.ok(
    hue > 90 && hue < 180 && saturation > 0.99,
    'blue to yellow passes through green, not grey (RGB would give 128,128,128)',
  );
  assert.deepEqual(
    round(
      ramp(
        [
          [10, 10, 10],
          [0, 0, 255],
          [255, 0, 0],
        ],
        0,
      ),
    ),
    [10, 10, 10],
  );
  for (const c of [
    [26, 133, 255],
    [191, 136, 3],
    [229, 20, 0],
    [30, 30, 30],
  ] as [number, number, number][])
    assert.deepEqual(round(fromHsl(toHsl(c))), c);
  assert.deepEqual(positiveRange(Float32Array.from([-Infinity, NaN, 0, 0.5, Infinity, 8])), { lo: 0.5, hi: 8 });
});

test('ramp table: the ramp sampled evenly, its ends exact', () => {
  const stops: [number, number, number][] = [
    [10, 10, 10],
    [0, 0, 255],
    [204, 167, 0],
    [241, 76, 76],
  ];
  const table = rampTable(stops);
  assert.equal(table.length, RAMP_STEPS * 3);
  for (const i of [0, 17, 128, RAMP_STEPS - 1])
    assert.deepEqual([...table.subarray(i * 3, i * 3 + 3)], ramp(stops, i / (RAMP_STEPS - 1)).map(Math.round));
  assert.deepEqual([...table.subarray(0, 3)], [10, 10, 10]);
  assert.deepEqual([...table.subarray(-3)], [241, 76, 76]);
});

test('step windows: whole run, latest width, fixed range; zooming into history stops following', () => {
  assert.deepEqual(resolveWindow({ kind: 'all' }, 0, 1000), { from: 0, to: 1000 });
  assert.deepEqual(resolveWindow({ kind: 'latest', width: 100 }, 0, 1000), { from: 900, to: 1000 });
  assert.deepEqual(resolveWindow({ kind: 'latest', width: 5000 }, 0, 1000), { from: 0, to: 1000 });
  assert.deepEqual(windowAfterZoom({ from: 0, to: 1000 }, 0, 1000, true), { kind: 'all' });
  assert.deepEqual(windowAfterZoom({ from: 800, to: 1000 }, 0, 1000, true), { kind: 'latest', width: 200 });
  assert.deepEqual(windowAfterZoom({ from: 100, to: 300 }, 0, 1000, true), { kind: 'range', from: 100, to: 300 });
  assert.deepEqual(
    windowAfterZoom({ from: 800, to: 1000 }, 0, 1000, false),
    { kind: 'range', from: 800, to: 1000 },
    'a finished run does not move',
  );
  assert.equal(follows({ kind: 'range', from: 0, to: 1 }), false);
  assert.equal(follows({ kind: 'latest', width: 3 }), true);
});

test('wire numbers spell non-finite values so JSON keeps them', () => {
  for (const v of [1.5, 0, NaN, Infinity, -Infinity])
    assert.ok(Object.is(fromWire(JSON.parse(JSON.stringify(toWire(v)))), v));
});

test('webview messages are checked before the extension acts on them', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready', runId: undefined });
  assert.deepEqual(parseWebviewMessage({ type: 'selectRun', runId: 'a' }), { type: 'selectRun', runId: 'a' });
  const ok = { type: 'viewLayers', runId: 'a', window: { kind: 'latest', width: 10 }, columns: 300, requestId: 4 };
  assert.deepEqual(parseWebviewMessage(ok), ok);
  for (const bad of [
    { ...ok, columns: 0 },
    { ...ok, columns: 1e9 },
    { ...ok, columns: 2.5 },
    { ...ok, window: { kind: 'latest', width: -1 } },
    { ...ok, window: { kind: 'range', from: 0, to: NaN } },
    { ...ok, requestId: '4' },
    { type: 'ready', runId: 3 },
    { type: 'selectRun' },
    { type: 'evil' },
    null,
  ])
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
});

test('export requests are checked: a step range in order, a PNG data URL and nothing else', () => {
  const csv = { type: 'exportCsv', runId: 'a', from: 10.5, to: 200 };
  assert.deepEqual(parseWebviewMessage(csv), csv);
  const png = { type: 'exportPng', runId: 'a', dataUrl: 'data:image/png;base64,iVBORw0KGgo=' };
  assert.deepEqual(parseWebviewMessage(png), png);
  for (const bad of [
    { ...csv, to: 5 },
    { ...csv, from: NaN },
    { ...csv, runId: undefined },
    { ...png, dataUrl: 'data:text/html;base64,PGI+' },
    { ...png, dataUrl: 'file:///etc/passwd' },
    { ...png, dataUrl: 42 },
  ])
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
});
