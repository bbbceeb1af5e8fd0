/**
 * Compare mode in the real webview bundle (real Chromium, real CompareSession through the stand-in
 * host): three runs of different lengths and step ranges overlaid on the norm chart. Each run's
 * drawn maximum (after min/max decimation of its own line) equals its true maximum, even for a run
 * long enough to be bucketed; colors differ; each run's NaN/Inf steps are markers in its color; the
 * legend names each run as text; a live run keeps updating.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DashboardPage, openDashboardPage, REPO } from '../helpers/dashboardPage';
import type { RunSpec, StepSpec } from '../helpers/dashboardStandIn';

interface Drawn {
  name: string;
  color: string;
  norms: { x: number; y: number; step: number }[];
  markers: { step: number }[];
}
type Win = {
  __gradientMonitor: { range(): { from: number; to: number }; rendered(): boolean; drawnOverlay(): Drawn[] };
  __standIn: {
    startRun(s: RunSpec): void;
    addSteps(id: string, s: StepSpec): number;
    endRun(id: string): void;
    compare(ids: string[]): void;
  };
};

const HOSTILE = '<img src=x onerror="document.title=\'owned\'">';
const LAYERS = ['embed', 'encoder.0', 'encoder.1', 'head', 'encoder.2', 'out'];

let d: DashboardPage;
let trueMax: number[];

/** Per run: the largest y its line draws now, its marker steps, its color. */
async function drawn(): Promise<{ name: string; color: string; max: number; points: number; markers: number[] }[]> {
  return d.page.evaluate(() =>
    (window as unknown as Win).__gradientMonitor.drawnOverlay().map((r) => ({
      name: r.name,
      color: r.color,
      max: Math.max(...r.norms.map((p) => p.y)),
      points: r.norms.length,
      markers: r.markers.map((m) => m.step),
    })),
  );
}

before(async () => {
  d = await openDashboardPage({ theme: 'dark', height: 800 });
  trueMax = await d.page.evaluate(
    ({ hostile, layers }) => {
      const s = (window as unknown as Win).__standIn;
      s.startRun({ id: 'long', name: 'long run', layers });
      s.startRun({ id: 'late', name: 'late start', layers });
      s.startRun({ id: 'odd', name: `odd ${hostile}`, layers });
      // 300,000 steps: far more than the store keeps raw, so most of it travels as min/max buckets.
      const longMax = s.addSteps('long', { from: 0, count: 300_000, spikeAt: 123_457, spikeValue: 80, nanAt: 200_000 });
      const lateMax = s.addSteps('late', {
        from: 50_000,
        count: 50_000,
        spikeAt: 70_000,
        spikeValue: 40,
        nanAt: 90_000,
        seed: 3,
      });
      const oddMax = s.addSteps('odd', { from: 0, count: 2_000, spikeAt: 1_500, spikeValue: 12, seed: 5 });
      s.endRun('long');
      s.endRun('odd');
      s.compare(['long', 'late', 'odd']);
      return [longMax, lateMax, oddMax];
    },
    { hostile: HOSTILE, layers: LAYERS },
  );
  await d.page.waitForFunction(
    () =>
      (window as unknown as Win).__gradientMonitor.drawnOverlay().length === 3 &&
      (window as unknown as Win).__gradientMonitor.rendered(),
  );
});

after(async () => {
  await d?.close();
});

test('each run draws its true maximum, in its own color, with its non-finite steps as its own markers; the legend is text', async () => {
  assert.deepEqual(trueMax, [80, 40, 12]);
  const runs = await drawn();
  assert.deepEqual(
    runs.map((r) => r.name),
    ['long run', 'late start', `odd ${HOSTILE}`],
  );
  runs.forEach((r, i) => assert.equal(r.max, trueMax[i], `${r.name}: drawn maximum is the true maximum`));
  assert.ok(runs[0].points < 20_000, `the long run is decimated (${runs[0].points} points drawn)`);
  assert.equal(new Set(runs.map((r) => r.color)).size, 3, `colors differ: ${runs.map((r) => r.color).join(', ')}`);
  assert.deepEqual(runs[0].markers, [200_000]);
  assert.deepEqual(runs[1].markers, [90_000]);
  assert.deepEqual(runs[2].markers, []);
  const range = await d.page.evaluate(() => (window as unknown as Win).__gradientMonitor.range());
  assert.ok(range.from <= 0 && range.to >= 299_999, 'aligned by step: the axis spans every run');

  const legend = d.page.locator('#compare-legend li');
  assert.equal(await legend.count(), 3);
  assert.match(
    (await legend.nth(0).textContent()) ?? '',
    /long run.*max 80 at step 123,457.*first non-finite at step 200,000/,
  );
  assert.match((await legend.nth(2).textContent()) ?? '', /odd <img src=x/);
  assert.equal(await d.page.locator('#compare-legend img').count(), 0, 'a hostile run name stays text');
  assert.notEqual(await d.page.title(), 'owned');
  const swatches = await legend
    .locator('.swatch')
    .evaluateAll((els) => els.map((e) => getComputedStyle(e).borderTopColor));
  assert.equal(new Set(swatches).size, 3, 'legend swatches carry the run colors');
  for (const hidden of ['#loss-panel', '#layer-chart', '#heatmap', '#run-select'])
    assert.equal(await d.page.locator(hidden).isVisible(), false, `${hidden} is hidden in compare mode`);

  mkdirSync(path.join(REPO, 'test-results'), { recursive: true });
  await d.page.screenshot({ path: path.join(REPO, 'test-results', 'compare-dashboard.png') });
  assert.deepEqual(d.problems, []);
});

test('a live run of the comparison keeps updating', async () => {
  await d.page.evaluate(() =>
    (window as unknown as Win).__standIn.addSteps('late', {
      from: 100_000,
      count: 5_000,
      spikeAt: 102_000,
      spikeValue: 95,
      seed: 9,
    }),
  );
  await d.page.waitForFunction(() => {
    const late = (window as unknown as Win).__gradientMonitor.drawnOverlay()[1];
    return late && Math.max(...late.norms.map((p) => p.y)) === 95;
  });
  const range = await d.page.evaluate(() => (window as unknown as Win).__gradientMonitor.range());
  assert.ok(range.to >= 104_999, 'the axis grows with the live run');
  const runs = await drawn();
  assert.equal(runs[0].max, 80, 'the other runs keep their maxima');
});
