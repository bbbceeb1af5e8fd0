/**
 * A recorded run in the real webview bundle (real Chromium, real session through the stand-in
 * host): the summary with every alert as a link that zooms the charts to its step, read problems
 * shown as text, and the CSV (visible step range) and PNG (the drawn chart) export requests.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { ExportMessage, LogStatusMessage } from '../../src/shared/webviewProtocol';
import { PNG_DATA_URL_PREFIX } from '../../src/shared/webviewProtocol';
import { DashboardPage, openDashboardPage, REPO } from '../helpers/dashboardPage';
import type { RunSpec, StepSpec } from '../helpers/dashboardStandIn';

type Win = {
  __gradientMonitor: { range(): { from: number; to: number }; rendered(): boolean; drawnMarkers(): { step: number }[] };
  __standIn: {
    startRun(s: RunSpec): void;
    addSteps(id: string, s: StepSpec): number;
    endRun(id: string): void;
    showLogStatus(s: LogStatusMessage): void;
    exports: ExportMessage[];
  };
};

const HOSTILE = '<img src=x onerror="document.title=\'owned\'">';
const status: LogStatusMessage = {
  type: 'logStatus',
  file: `/runs/${HOSTILE}.jsonl`,
  loading: false,
  problems: [`line 7: not valid JSON ${HOSTILE}`],
  notes: [
    'The last line was cut short (the run was likely killed while writing it) and was skipped; everything before it is shown.',
  ],
  summary: {
    runId: 'rec',
    status: 'completed',
    steps: 2000,
    firstStep: 0,
    lastStep: 1999,
    durationSeconds: 3725,
    max: 50,
    maxStep: 500,
    median: 0.9,
    p99: 1.4,
    nonFiniteSteps: 1,
    firstNonFinite: { step: 1500, layers: ['encoder.2.attn'] },
    alerts: [
      { kind: 'threshold', step: 500, value: 50, message: 'gradient norm 50 exceeds the threshold 5 at step 500' },
      {
        kind: 'nonfinite',
        step: 1500,
        value: 'NaN',
        message: `non-finite gradient norm (NaN) at step 1500 ${HOSTILE}`,
      },
    ],
    alertCount: 2,
    clipRate: 0.125,
    suggestedMaxNorm: 2,
  },
};

let d: DashboardPage;

before(async () => {
  d = await openDashboardPage({ theme: 'light', height: 1100 });
  await d.page.evaluate((s) => {
    const standIn = (window as unknown as Win).__standIn;
    standIn.startRun({
      id: 'rec',
      name: 'recorded run',
      layers: ['embed', 'encoder.0', 'encoder.1', 'head', 'encoder.2.attn', 'out'],
      threshold: 5,
    });
    standIn.addSteps('rec', { from: 0, count: 2000, spikeAt: 500, spikeValue: 50, nanAt: 1500, withLoss: true });
    standIn.endRun('rec');
    standIn.showLogStatus(s);
  }, status);
  await d.page.waitForSelector('#recorded:not([hidden])');
  await d.page.waitForFunction(() => (window as unknown as Win).__gradientMonitor.drawnMarkers().length > 0);
});

after(async () => {
  await d?.close();
});

test('the summary shows every fact; an alert link zooms the charts to its step; untrusted text stays text', async () => {
  const facts = (await d.page.textContent('#recorded-facts')) ?? '';
  for (const expected of [
    'Steps2,000 (0 to 1,999)',
    'Duration1h 2m',
    'Max norm50 at step 500',
    'First non-finitestep 1,500 in "encoder.2.attn"',
    'Clip rate12.5%',
    'Suggested max_norm2',
  ])
    assert.ok(facts.includes(expected), `${expected} in ${facts}`);
  assert.equal(await d.page.locator('#recorded-alerts button.link').count(), 2);
  await d.page.locator('#recorded-alerts button.link', { hasText: 'step 1,500' }).click();
  await d.page.waitForFunction(() => {
    const r = (window as unknown as Win).__gradientMonitor.range();
    return r.from > 1400 && r.from < 1500 && r.to > 1500 && r.to < 1600;
  });
  await d.page.locator('#recorded-facts button.link', { hasText: 'at step 500' }).click();
  await d.page.waitForFunction(() => {
    const r = (window as unknown as Win).__gradientMonitor.range();
    return r.from < 500 && r.to > 500 && r.to - r.from < 100;
  });
  const problems = (await d.page.textContent('#log-problems')) ?? '';
  assert.match(problems, /Parts of \/runs\/<img src=x onerror=.*\.jsonl could not be read/);
  assert.match(problems, /line 7: not valid JSON/);
  assert.match(problems, /last line was cut short/);
  assert.equal(await d.page.locator('img').count(), 0, 'no element made from untrusted text');
  assert.notEqual(await d.page.title(), 'owned');
  await d.page.waitForFunction(() => (window as unknown as Win).__gradientMonitor.rendered());
  mkdirSync(path.join(REPO, 'test-results'), { recursive: true });
  await d.page.screenshot({ path: path.join(REPO, 'test-results', 'recorded-dashboard.png'), fullPage: true });
  assert.deepEqual(d.problems, []);
});

test('CSV export asks for the visible steps; PNG export sends the chart as drawn, on the theme background', async () => {
  await d.page.locator('#reset-zoom').click();
  await d.page.locator('#recorded-alerts button.link', { hasText: 'step 500' }).click();
  await d.page.waitForFunction(() => (window as unknown as Win).__gradientMonitor.range().to < 600);
  const range = await d.page.evaluate(() => (window as unknown as Win).__gradientMonitor.range());
  await d.page.locator('#export-csv').click();
  await d.page.locator('#export-png').click();
  await d.page.waitForFunction(() => (window as unknown as Win).__standIn.exports.length === 2);
  const [csv, png] = await d.page.evaluate(() => (window as unknown as Win).__standIn.exports);
  assert.deepEqual(csv, { type: 'exportCsv', runId: 'rec', from: range.from, to: range.to });
  assert.equal(png.type, 'exportPng');
  assert.ok(png.type === 'exportPng' && png.dataUrl.startsWith(PNG_DATA_URL_PREFIX));
  const bytes = Buffer.from((png as { dataUrl: string }).dataUrl.slice(PNG_DATA_URL_PREFIX.length), 'base64');
  assert.deepEqual([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
  const canvasWidth = await d.page.evaluate(() => (document.getElementById('norm-chart') as HTMLCanvasElement).width);
  assert.equal(bytes.readUInt32BE(16), canvasWidth, 'the image is the chart canvas, at its pixel size');
  writeFileSync(path.join(REPO, 'test-results', 'recorded-dashboard-export.png'), bytes);
  // Opaque: the top-left corner is the light theme's background, not transparent.
  const corner = await d.page.evaluate(
    async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return [...ctx.getImageData(1, 1, 1, 1).data];
    },
    (png as { dataUrl: string }).dataUrl,
  );
  assert.equal(corner[3], 255, `opaque corner ${corner}`);
  assert.ok(corner[0] > 200 && corner[1] > 200 && corner[2] > 200, `light background ${corner}`);
});
