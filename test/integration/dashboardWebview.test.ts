/**
 * The real webview bundle (dist/webview.js) in real Chromium, fed by the real extension-side
 * session through a stand-in acquireVsCodeApi: a million steps stay truthful at every zoom, NaN
 * steps show, untrusted names stay text, live runs follow until the user looks at history, and the
 * page's strict CSP holds. Screenshots land in test-results/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DashboardPage, openDashboardPage, REPO } from '../helpers/dashboardPage';
import { LOG_GATE_ORIGIN } from '../helpers/exampleOrigin';
import type { RunSpec, StepSpec } from '../helpers/dashboardStandIn';
import type { ThemeName } from '../helpers/vscodeThemes';
import { SYNTHETIC_LAYERS } from '../../src/cli/synthetic';

const ARTIFACTS = path.join(REPO, 'test-results');
const LAYERS = SYNTHETIC_LAYERS;

interface Hook {
  metrics: { renders: number; firstDrawMs: number[] };
  drawnNorms(): { x: number; y: number; step: number }[];
  drawnMarkers(): { step: number; value: number; label?: string }[];
  drawnLayers(): string[];
  heatmapCell(step: number, row: number): { layer: string; value: number } | undefined;
  range(): { from: number; to: number };
  window(): { kind: string };
  trueMax(): number;
  rendered(): boolean;
  normChartPoint(step: number): { x: number; y: number };
}

type Win = {
  __gradientMonitor: Hook;
  __standIn: {
    startRun(s: RunSpec): void;
    addSteps(id: string, s: StepSpec): number;
    endRun(id: string): void;
    select(id: string): void;
    state(): Record<string, unknown>;
    received: unknown[];
    reproduced: unknown[];
  };
  /** Every text the page drew on a canvas (recorded by an init script). */
  __drawnTexts?: string[];
};

async function screenshot(d: DashboardPage, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await d.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the page has drawn everything it was sent (a frame after the last message). */
async function settled(d: DashboardPage): Promise<void> {
  await d.page.waitForTimeout(250);
  await d.page.waitForFunction(() => (window as unknown as Win).__gradientMonitor.rendered());
}

function drawnStats(d: DashboardPage) {
  return d.page.evaluate(() => {
    const hook = (window as unknown as Win).__gradientMonitor;
    const drawn = hook.drawnNorms();
    let max = -Infinity;
    let maxStep = -1;
    for (const p of drawn) if (p.y > max) [max, maxStep] = [p.y, p.step];
    return {
      count: drawn.length,
      max,
      maxStep,
      trueMax: hook.trueMax(),
      markers: hook.drawnMarkers().map((m) => m.step),
      range: hook.range(),
      window: hook.window(),
    };
  });
}

describe('dashboard webview with a million steps', () => {
  let d: DashboardPage;
  const SPIKE_AT = 123_457;
  const SPIKE = 5000.125;
  const NAN_AT = 654_321;

  before(async () => {
    d = await openDashboardPage({ theme: 'dark' });
    await d.page.evaluate(
      ({ layers, spikeAt, spike, nanAt }) => {
        const s = (window as unknown as Win).__standIn;
        s.startRun({ id: 'big', name: 'transformer-1M', layers, threshold: 10 });
        for (let f = 0; f < 10; f++)
          s.addSteps('big', { from: f * 100_000, count: 100_000, spikeAt, spikeValue: spike, nanAt, withLoss: true });
      },
      { layers: LAYERS, spikeAt: SPIKE_AT, spike: SPIKE, nanAt: NAN_AT },
    );
    await d.page.waitForFunction(
      () => (window as unknown as Win).__gradientMonitor.drawnLayers().length > 0,
      undefined,
      { timeout: 30_000 },
    );
    await settled(d);
  });

  after(async () => {
    await d?.close();
  });

  test('at full zoom-out the drawn maximum is the true maximum, at its step, from a decimated line', async () => {
    const s = await drawnStats(d);
    assert.equal(s.trueMax, SPIKE);
    assert.equal(s.max, SPIKE, 'the spike is drawn with its exact value');
    assert.equal(s.maxStep, SPIKE_AT);
    const width = await d.page.evaluate(() => document.getElementById('norm-chart')!.clientWidth);
    assert.ok(s.count <= 4 * width + 16, `decimated to ${s.count} points for ${width} px`);
    assert.deepEqual(s.range, { from: 0, to: 999_999 });
    await screenshot(d, 'dashboard-1m-steps');
  });

  test('a NaN step among a million shows as a marker, and its layer tops the layer ranking', async () => {
    const s = await drawnStats(d);
    assert.deepEqual(s.markers, [NAN_AT]);
    const layers = await d.page.evaluate(() => (window as unknown as Win).__gradientMonitor.drawnLayers());
    assert.equal(layers[0], 'encoder.2.attn', 'the layer that went NaN ranks first');
    assert.equal(layers[1], 'encoder.1.attn', 'then the one that spiked');
    const cells = await d.page.evaluate(
      ({ nanAt, spikeAt }) => {
        const hook = (window as unknown as Win).__gradientMonitor;
        return { nan: hook.heatmapCell(nanAt, 5), spike: hook.heatmapCell(spikeAt, 3) };
      },
      { nanAt: NAN_AT, spikeAt: SPIKE_AT },
    );
    assert.equal(cells.nan?.layer, 'encoder.2.attn');
    assert.ok(Number.isNaN(cells.nan?.value), 'the cell holds NaN');
    assert.equal(cells.spike?.value, Math.fround(SPIKE));
  });

  test('wheel zoom into history keeps the spike exact and stops following; the keyboard zooms back out', async () => {
    const page = d.page;
    const at = await page.evaluate(
      (step) => (window as unknown as Win).__gradientMonitor.normChartPoint(step),
      SPIKE_AT,
    );
    await page.mouse.move(at.x, at.y);
    // Wheel until the view is under a fifth of the run (a busy machine coalesces some wheel events).
    for (let i = 0; i < 80; i++) {
      await page.mouse.wheel(0, -300);
      await page.waitForTimeout(40);
      const r = await page.evaluate(() => (window as unknown as Win).__gradientMonitor.range());
      if (r.to - r.from < 150_000) break;
    }
    await settled(d);
    const s = await drawnStats(d);
    assert.ok(s.range.to - s.range.from < 200_000, `zoomed to ${JSON.stringify(s.range)}`);
    assert.ok(s.range.from <= SPIKE_AT && s.range.to >= SPIKE_AT);
    assert.equal(s.window.kind, 'range', 'looking at history: no longer following');
    assert.equal(s.max, SPIKE);
    await screenshot(d, 'dashboard-1m-zoomed');
    // Back to the whole run with the keyboard.
    await page.focus('#norm-chart');
    await page.keyboard.press('0');
    await settled(d);
    assert.deepEqual((await drawnStats(d)).range, { from: 0, to: 999_999 });
  });

  test('the page runs under its strict CSP without violations or errors', () => {
    assert.deepEqual(d.problems, []);
  });
});

describe('dashboard webview: untrusted text, live runs, themes', () => {
  test('a traced NaN: its marker is labelled with its origin, and Reproduce asks for the replay of its snapshot', async () => {
    const d = await openDashboardPage({
      theme: 'dark',
      beforeLoad: async (page) => {
        await page.addInitScript(() => {
          const w = window as unknown as Win;
          w.__drawnTexts = [];
          const fillText = CanvasRenderingContext2D.prototype.fillText;
          CanvasRenderingContext2D.prototype.fillText = function (text: string, ...rest: [number, number]) {
            w.__drawnTexts!.push(String(text));
            return fillText.call(this, text, ...rest);
          };
        });
      },
    });
    const label = 'NaN born in blocks.2.gate, LogGate.forward, model.py:10';
    const snapshot = '/work/run/.gradient-monitor/snapshots/traced/step-150.pt';
    try {
      const page = d.page;
      const reproduce = page.locator('.stat-nonFinite button.stat-action');
      await page.evaluate((layers) => {
        const s = (window as unknown as Win).__standIn;
        s.startRun({ id: 'traced', name: 'traced', layers, threshold: 10 });
        s.addSteps('traced', { from: 0, count: 100 });
      }, LAYERS);
      await settled(d);
      assert.equal(await reproduce.isVisible(), false, 'no snapshot yet: nothing to reproduce');
      await page.evaluate(
        (nanOrigin) => {
          (window as unknown as Win).__standIn.addSteps('traced', { from: 100, count: 200, nanAt: 150, nanOrigin });
        },
        { ...LOG_GATE_ORIGIN, snapshot },
      );
      await settled(d);
      const markers = await page.evaluate(() => (window as unknown as Win).__gradientMonitor.drawnMarkers());
      assert.deepEqual(
        markers.map((m) => [m.step, m.label]),
        [[150, label]],
      );
      const drawn = await page.evaluate(() => (window as unknown as Win).__drawnTexts ?? []);
      assert.ok(drawn.includes(label), `the label is drawn beside the marker's rule: ${JSON.stringify(drawn)}`);
      const title = await page.locator('.stat-nonFinite').getAttribute('title');
      assert.ok(title?.includes(label), `the summary names the origin: ${title}`);
      assert.equal(await reproduce.isVisible(), true);
      await reproduce.click();
      await page.waitForFunction(() => (window as unknown as Win).__standIn.reproduced.length > 0);
      const { received, reproduced } = await page.evaluate(() => {
        const s = (window as unknown as Win).__standIn;
        return { received: s.received, reproduced: s.reproduced };
      });
      assert.deepEqual(
        received.filter((m) => (m as { type: string }).type === 'reproduce'),
        [{ type: 'reproduce', runId: 'traced' }],
      );
      assert.deepEqual(reproduced, [{ runId: 'traced', step: 150, snapshot }]);
      await screenshot(d, 'dashboard-nan-origin');
      assert.deepEqual(d.problems, []);
    } finally {
      await d.close();
    }
  });

  test('run names, layer names and messages with HTML or script stay text', async () => {
    const d = await openDashboardPage({ theme: 'light' });
    try {
      const evilName = '<img src=x onerror="window.__pwned=1">run';
      const evilLayer = '<script>window.__pwned=2</script><b>layer</b>';
      await d.page.evaluate(
        ({ name, layer }) => {
          const s = (window as unknown as Win).__standIn;
          s.startRun({ id: 'x', name, layers: [layer, 'fine'], threshold: 1 });
          s.addSteps('x', { from: 0, count: 300, nanAt: 150 });
        },
        { name: evilName, layer: evilLayer },
      );
      await settled(d);
      const page = d.page;
      const option = await page.locator('#run-select option').first().textContent();
      assert.ok(option?.startsWith(evilName), option ?? '');
      const box = await page.locator('#heatmap').boundingBox();
      assert.ok(box);
      // Hover the first layer's row in the middle of the steps.
      const rowY = await page.evaluate(() => {
        const c = document.getElementById('heatmap')!.getBoundingClientRect();
        return c.top;
      });
      await page.mouse.move(box.x + box.width * 0.6, rowY + 30);
      await page.waitForTimeout(100);
      const tip = await page.locator('#tooltip').textContent();
      assert.ok(tip?.includes(evilLayer), `tooltip shows the raw name: ${tip}`);
      const injected = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: number }).__pwned,
        imgs: document.querySelectorAll('img').length,
        bolds: document.querySelectorAll('b').length,
        scripts: [...document.scripts].map((s) => s.src.split('/').pop()),
      }));
      assert.deepEqual(injected, { pwned: undefined, imgs: 0, bolds: 0, scripts: ['standin.js', 'webview.js'] });
      await screenshot(d, 'dashboard-untrusted-names-light');
      assert.deepEqual(d.problems, []);
    } finally {
      await d.close();
    }
  });

  test('a loss-only run draws its loss and says no gradient norms were logged; layer names are quoted', async () => {
    const d = await openDashboardPage({ theme: 'dark' });
    try {
      await d.page.evaluate(() => {
        const s = (window as unknown as Win).__standIn;
        // More steps than the full-resolution window, so envelope buckets of loss-only steps are drawn too.
        s.startRun({ id: 'old', name: 'old trainer state', layers: [], threshold: 1 });
        s.addSteps('old', { from: 0, count: 70_000, lossOnly: true });
      });
      await settled(d);
      const page = d.page;
      assert.equal(await page.locator('#norm-absent').isVisible(), true);
      assert.match((await page.textContent('#norm-absent')) ?? '', /No gradient norms were logged in this run/);
      assert.equal(await page.locator('#loss-panel').isVisible(), true);
      assert.deepEqual(
        await page.evaluate(() => {
          const hook = (window as unknown as Win).__gradientMonitor;
          return [hook.drawnNorms().length, hook.drawnMarkers().length];
        }),
        [0, 0],
        'not measured is neither a norm nor a non-finite marker',
      );
      assert.match(
        (await page.getAttribute('#norm-chart', 'aria-label')) ?? '',
        /No gradient norms were logged in this run\./,
      );
      await screenshot(d, 'dashboard-loss-only');

      await page.evaluate(() => {
        const s = (window as unknown as Win).__standIn;
        s.startRun({ id: 'named', name: 'named', layers: ['dec', 'enc,0'], threshold: 100 });
        s.addSteps('named', { from: 0, count: 20, nanAt: 10 });
        s.select('named');
      });
      await settled(d);
      assert.equal(await page.locator('#norm-absent').isVisible(), false);
      assert.match((await page.getAttribute('.stat-nonFinite', 'title')) ?? '', /the first at step 10 in "enc,0"$/);
      assert.deepEqual(d.problems, []);
    } finally {
      await d.close();
    }
  });

  test('a live run grows and follows; zooming into history stops following; Follow resumes; state persists over a reload', async () => {
    const d = await openDashboardPage({ theme: 'dark', height: 1100 });
    try {
      const page = d.page;
      const add = (from: number, count: number, extra: Partial<StepSpec> = {}) =>
        page.evaluate(
          ({ from, count, extra }) =>
            (window as unknown as Win).__standIn.addSteps('live', { from, count, withLoss: true, ...extra }),
          { from, count, extra },
        );
      await page.evaluate(() =>
        (window as unknown as Win).__standIn.startRun({
          id: 'live',
          name: 'live run',
          layers: ['a', 'b', 'c'],
          threshold: 3,
        }),
      );
      await add(0, 2000);
      await settled(d);
      assert.deepEqual((await drawnStats(d)).range, { from: 0, to: 1999 });
      for (let f = 0; f < 5; f++) await add(2000 + f * 200, 200, f === 2 ? { nanAt: 2450 } : {});
      await settled(d);
      let s = await drawnStats(d);
      assert.deepEqual(s.range, { from: 0, to: 2999 }, 'the chart grew with the run');
      assert.deepEqual(s.markers, [2450]);
      await page.focus('#norm-chart');
      await page.keyboard.press('+');
      await settled(d);
      s = await drawnStats(d);
      assert.equal(s.window.kind, 'range', 'zoomed into the middle: following stops');
      const pinned = s.range;
      await add(3000, 500);
      await settled(d);
      assert.deepEqual((await drawnStats(d)).range, pinned, 'new steps do not move a pinned view');
      await page.click('#follow-toggle');
      await add(3500, 500);
      await settled(d);
      s = await drawnStats(d);
      assert.equal(s.window.kind, 'latest');
      assert.equal(s.range.to, 3999, 'following again: the view ends at the latest step');
      assert.equal(
        Math.round(s.range.to - s.range.from),
        Math.round(pinned.to - pinned.from),
        'with the width the user chose',
      );
      await page.click('#scale-toggle');
      await settled(d);
      const state = await page.evaluate(() => (window as unknown as Win).__standIn.state());
      assert.equal(state.runId, 'live');
      assert.equal(state.yScale, 'linear');
      assert.equal((state.window as { kind: string }).kind, 'latest');
      await screenshot(d, 'dashboard-live-following');

      // A reload is what VS Code does to a hidden panel: the page comes back from its saved state
      // and waits for its run (this stand-in's store does not survive the reload).
      await page.reload();
      await page.waitForFunction(() => !document.getElementById('message')!.hidden);
      assert.match((await page.locator('#message').textContent()) ?? '', /Waiting for run “live”/);
      await page.evaluate(() => {
        const s = (window as unknown as Win).__standIn;
        s.startRun({ id: 'live', name: 'live run', layers: ['a', 'b', 'c'], threshold: 3 });
        s.addSteps('live', { from: 0, count: 4000 });
      });
      await settled(d);
      s = await drawnStats(d);
      assert.equal(s.window.kind, 'latest', 'the restored view keeps following with its width');
      assert.equal(await page.getAttribute('#scale-toggle', 'aria-pressed'), 'false', 'linear scale restored');
      assert.deepEqual(d.problems, []);
    } finally {
      await d.close();
    }
  });

  for (const theme of ['light', 'high-contrast'] as ThemeName[]) {
    test(`${theme} theme: colors come from the theme variables`, async () => {
      const d = await openDashboardPage({ theme, height: 1300 });
      try {
        await d.page.evaluate(() => {
          const s = (window as unknown as Win).__standIn;
          s.startRun({
            id: 't',
            name: 'theme check',
            layers: ['embed', 'encoder.0', 'encoder.1', 'head'],
            threshold: 4,
          });
          s.addSteps('t', { from: 0, count: 5000, spikeAt: 1200, spikeValue: 40, nanAt: 3900, withLoss: true });
        });
        await settled(d);
        const colors = await d.page.evaluate(() => ({
          body: getComputedStyle(document.body).backgroundColor,
          editor: getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').trim(),
        }));
        const hex = colors.editor.replace('#', '');
        const rgb = `rgb(${parseInt(hex.slice(0, 2), 16)}, ${parseInt(hex.slice(2, 4), 16)}, ${parseInt(hex.slice(4, 6), 16)})`;
        assert.equal(colors.body, rgb);
        await screenshot(d, `dashboard-theme-${theme}`);
        // VS Code switches themes by swapping the body class and the variables: the charts follow.
        const blue = await d.page.evaluate(() => {
          document.documentElement.style.setProperty('--vscode-charts-blue', '#123456');
          document.body.className = 'vscode-dark';
          return new Promise<unknown>((resolve) =>
            setTimeout(
              () =>
                resolve(
                  (
                    window as unknown as { __gradientMonitor: { normLineColor(): unknown } }
                  ).__gradientMonitor.normLineColor(),
                ),
              100,
            ),
          );
        });
        assert.equal(blue, '#123456');
        assert.deepEqual(d.problems, []);
      } finally {
        await d.close();
      }
    });
  }
});
