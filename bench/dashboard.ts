/**
 * Dashboard benchmarks (numbers for BENCHMARKS.md, not tests). The real webview bundle in Chromium
 * with the real extension-side session in the page (test/helpers/dashboardStandIn.ts):
 *  - time to first draw of a 1,000,000-step × 8-layer run, from the snapshot's arrival to the end
 *    of its first frame, and the extension's cost to build and serialize that snapshot;
 *  - per-update cost while the run streams (10 coalesced updates a second of 100 steps each);
 *  - the webview's JS heap after GC.
 * Baseline in the same run: the same page fed all 1,000,000 steps raw (what a store without
 * envelopes would send; the page still decimates what it draws).
 *
 * --scaling: first draw and per-update cost for every run size in --steps and layer count in
 * --layers, against chart.js drawing the same points (the total and every layer, one point per
 * step) without decimation, and uPlot as a reference (bench/chart-baselines.ts).
 *
 *   node --import tsx bench/dashboard.ts [--quick] [--samples N] [--out FILE]
 *   node --import tsx bench/dashboard.ts --scaling [--quick] [--steps 10000,...] [--layers 8,64]
 *       [--baselines chartjs,uplot|none] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openDashboardPage } from '../test/helpers/dashboardPage';
import type { RunSpec, StepSpec } from '../test/helpers/dashboardStandIn';

import { baselineSample, BaselineResult } from './chart-baselines';
import { median } from './stats';
import { SYNTHETIC_LAYERS } from '../src/cli/synthetic';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    samples: { type: 'string' },
    out: { type: 'string' },
    scaling: { type: 'boolean' },
    steps: { type: 'string' },
    layers: { type: 'string' },
    baselines: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const SAMPLES = Number(values.samples ?? (quick ? 1 : 3));
const STEPS = quick ? 20_000 : 1_000_000;
const STREAM_UPDATES = quick ? 3 : 30;
const LAYERS = SYNTHETIC_LAYERS;

interface Metrics {
  renderMs: number[];
  firstDrawMs: number[];
  handleMs: number[];
}
type Win = {
  __gradientMonitor: { metrics: Metrics; drawnLayers(): string[]; drawnNorms(): unknown[]; rendered(): boolean };
  __standIn: {
    startRun(s: RunSpec): void;
    addSteps(id: string, s: StepSpec): number;
    timeSnapshot(id: string): { buildMs: number; transportMs: number; bytes: number };
    postRawSnapshot(id: string, count: number, layers: string[]): number;
    detachHost(): void;
  };
};

const p95 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

async function heapMb(page: import('playwright-core').Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  await cdp.detach();
  return usedSize / 2 ** 20;
}

async function envelopeSample(steps = STEPS, layers = LAYERS, streamUpdates = STREAM_UPDATES) {
  const d = await openDashboardPage({ theme: 'dark' });
  const page = d.page;
  try {
    await page.evaluate(
      ({ layers, steps }) => {
        const s = (window as unknown as Win).__standIn;
        s.startRun({ id: 'big', name: 'bench', layers, threshold: 10 });
        for (let from = 0; from < steps; from += 100_000)
          s.addSteps('big', {
            from,
            count: Math.min(100_000, steps - from),
            spikeAt: steps / 8 + 7,
            spikeValue: 5000,
            nanAt: steps / 2 + 3,
          });
      },
      { layers, steps },
    );
    await page.waitForFunction(() => (window as unknown as Win).__gradientMonitor.drawnLayers().length > 0, undefined, {
      timeout: 60_000,
    });
    await page.waitForTimeout(300);
    const first = await page.evaluate(
      () => (window as unknown as Win).__gradientMonitor.metrics.firstDrawMs.at(-1) ?? NaN,
    );
    const host = await page.evaluate(() => (window as unknown as Win).__standIn.timeSnapshot('big'));
    // Stream: 10 frames a second of 100 steps, for 3 seconds.
    const before = await page.evaluate(() => {
      const m = (window as unknown as Win).__gradientMonitor.metrics;
      return { handle: m.handleMs.length, render: m.renderMs.length };
    });
    for (let i = 0; i < streamUpdates; i++) {
      await page.evaluate(
        (from) => (window as unknown as Win).__standIn.addSteps('big', { from, count: 100 }),
        steps + i * 100,
      );
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(300);
    const stream = await page.evaluate((b) => {
      const m = (window as unknown as Win).__gradientMonitor.metrics;
      return { handle: m.handleMs.slice(b.handle), render: m.renderMs.slice(b.render) };
    }, before);
    await page.evaluate(() => (window as unknown as Win).__standIn.detachHost());
    const heap = await heapMb(page);
    return { first, host, stream, heap };
  } finally {
    await d.close();
  }
}

async function rawSample() {
  const d = await openDashboardPage({ theme: 'dark' });
  const page = d.page;
  try {
    const postMs = await page.evaluate(
      ({ steps, layers }) => (window as unknown as Win).__standIn.postRawSnapshot('raw', steps, layers),
      { steps: STEPS, layers: LAYERS },
    );
    await page.waitForFunction(
      () => (window as unknown as Win).__gradientMonitor.metrics.firstDrawMs.length > 0,
      undefined,
      { timeout: 120_000 },
    );
    await page.waitForTimeout(300);
    const first = await page.evaluate(
      () => (window as unknown as Win).__gradientMonitor.metrics.firstDrawMs.at(-1) ?? NaN,
    );
    await page.evaluate(() => (window as unknown as Win).__standIn.detachHost());
    const heap = await heapMb(page);
    return { first, postMs, heap, bytes: STEPS * 16 };
  } finally {
    await d.close();
  }
}

async function emptyHeap(): Promise<number> {
  const d = await openDashboardPage({ theme: 'dark' });
  try {
    await d.page.waitForTimeout(300);
    await d.page.evaluate(() => (window as unknown as Win).__standIn.detachHost());
    return await heapMb(d.page);
  } finally {
    await d.close();
  }
}

const layerNames = (n: number): string[] =>
  n === LAYERS.length ? LAYERS : Array.from({ length: n }, (_, i) => `encoder.${i >> 1}.${i % 2 ? 'mlp' : 'attn'}`);
const BASELINE_TIMEOUT_MS = 60_000;

/** --scaling: ours, chart.js without decimation and uPlot, for every run size and layer count. */
async function scaling(): Promise<void> {
  const stepCounts = (values.steps ?? (quick ? '20000' : '10000,100000,1000000,10000000')).split(',').map(Number);
  const layerCounts = (values.layers ?? (quick ? '8' : '8,64')).split(',').map(Number);
  const updates = quick ? 3 : 20;
  const rows = [];
  const f = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1));
  const baselines = (values.baselines ?? 'chartjs,uplot').split(',');
  const cell = (r: BaselineResult | undefined, library: string): string =>
    r
      ? `${f(r.firstDrawMs)} / ${f(r.updateMs)}`
      : baselines.includes(library)
        ? `over ${BASELINE_TIMEOUT_MS / 1000} s`
        : 'not run';
  console.log(`Dashboard scaling, ${SAMPLES} sample(s) each, ${updates} updates of 100 steps, Chromium ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}
`);
  console.log(
    '| steps | layers | ours: first draw ms | ours: per update ms, median (p95) | chart.js, no decimation: first draw / per update ms | uPlot: first draw / per update ms |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const layers of layerCounts) {
    for (const steps of stepCounts) {
      const ours = [];
      const chartjs = [];
      const uplot = [];
      for (let i = 0; i < SAMPLES; i++) {
        ours.push(await envelopeSample(steps, layerNames(layers), updates));
        if (baselines.includes('chartjs'))
          chartjs.push(await baselineSample('chartjs', steps, layers, updates, BASELINE_TIMEOUT_MS));
        if (baselines.includes('uplot'))
          uplot.push(await baselineSample('uplot', steps, layers, updates, BASELINE_TIMEOUT_MS));
      }
      // An update costs taking it in plus the frame that draws it (one frame per update at this pace).
      const renders = ours.flatMap((o) => o.stream.render);
      const handles = ours.flatMap((o) => o.stream.handle);
      const summary = (rs: (BaselineResult | undefined)[]): BaselineResult | undefined =>
        rs.length === 0 || rs.some((r) => r === undefined)
          ? undefined
          : {
              firstDrawMs: median(rs.map((r) => r!.firstDrawMs)),
              updateMs: median(rs.map((r) => r!.updateMs)),
              updates: rs.flatMap((r) => r!.updates),
            };
      const row = {
        steps,
        layers,
        ours: {
          firstDrawMs: median(ours.map((o) => o.first)),
          updateMs: median(renders) + median(handles),
          updateP95Ms: p95(renders) + p95(handles),
          heapMb: median(ours.map((o) => o.heap)),
          snapshotBytes: median(ours.map((o) => o.host.bytes)),
        },
        chartjs: summary(chartjs),
        uplot: summary(uplot),
      };
      rows.push(row);
      console.log(
        `| ${steps.toLocaleString('en')} | ${layers} | ${f(row.ours.firstDrawMs)} | ${f(row.ours.updateMs)} (${f(row.ours.updateP95Ms)}) | ${cell(row.chartjs, 'chartjs')} | ${cell(row.uplot, 'uplot')} |`,
      );
    }
  }
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(
      values.out,
      JSON.stringify(
        {
          samples: SAMPLES,
          updates,
          timeoutMs: BASELINE_TIMEOUT_MS,
          rows: rows.map((r) => ({
            ...r,
            chartjs: r.chartjs && { ...r.chartjs, updates: undefined },
            uplot: r.uplot && { ...r.uplot, updates: undefined },
          })),
        },
        null,
        2,
      ),
    );
  }
}

async function main(): Promise<void> {
  if (values.scaling) return scaling();
  const ours = [];
  const raw = [];
  const empty = [];
  for (let i = 0; i < SAMPLES; i++) {
    ours.push(await envelopeSample());
    raw.push(await rawSample());
    empty.push(await emptyHeap());
  }
  const f = (x: number, digits = 1): string => x.toFixed(digits);
  const firstOurs = median(ours.map((o) => o.first));
  const firstRaw = median(raw.map((r) => r.first));
  const heapOurs = median(ours.map((o) => o.heap));
  const heapRaw = median(raw.map((r) => r.heap));
  const heapEmpty = median(empty);
  const updates = ours.flatMap((o) => o.stream.handle);
  const renders = ours.flatMap((o) => o.stream.render);
  const bytesOurs = median(ours.map((o) => o.host.bytes));
  console.log(
    `Dashboard, ${STEPS.toLocaleString('en')} steps × ${LAYERS.length} layers, ${SAMPLES} samples each, Chromium ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}\n`,
  );
  console.log('| measure | envelopes (ours) | all steps raw (baseline) | ratio |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| time to first draw, median (ms) | ${f(firstOurs)} | ${f(firstRaw)} | ${f(firstRaw / firstOurs, 1)}× |`,
  );
  console.log(
    `| snapshot sent (MB of typed arrays) | ${f(bytesOurs / 2 ** 20, 2)} | ${f(median(raw.map((r) => r.bytes)) / 2 ** 20, 2)} | ${f(median(raw.map((r) => r.bytes)) / bytesOurs, 1)}× |`,
  );
  console.log(
    `| webview JS heap after GC, above an empty page (MB) | ${f(heapOurs - heapEmpty)} | ${f(heapRaw - heapEmpty)} | ${f((heapRaw - heapEmpty) / (heapOurs - heapEmpty), 1)}× |`,
  );
  console.log(`\nEmpty page heap ${f(heapEmpty)} MB.`);
  console.log(
    `Extension side, ${STEPS.toLocaleString('en')}-step snapshot: build rows median ${f(median(ours.map((o) => o.host.buildMs)))} ms, JSON+binary transport ${f(median(ours.map((o) => o.host.transportMs)))} ms.`,
  );
  console.log(
    `Streaming onto the ${STEPS.toLocaleString('en')}-step run (${updates.length} updates): take in an update median ${f(median(updates), 2)} ms (p95 ${f(p95(updates), 2)}), draw a frame median ${f(median(renders))} ms (p95 ${f(p95(renders))}).`,
  );
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    const result = {
      steps: STEPS,
      layers: LAYERS.length,
      samples: SAMPLES,
      firstDrawMs: { envelopes: firstOurs, raw: firstRaw },
      snapshotBytes: { envelopes: bytesOurs, raw: median(raw.map((r) => r.bytes)) },
      heapMbAboveEmpty: { envelopes: heapOurs - heapEmpty, raw: heapRaw - heapEmpty },
      snapshotBuildMs: median(ours.map((o) => o.host.buildMs)),
      snapshotTransportMs: median(ours.map((o) => o.host.transportMs)),
      updateHandleMs: { median: median(updates), p95: p95(updates) },
      frameMs: { median: median(renders), p95: p95(renders) },
      raw: { ours, rawSamples: raw, emptyHeapMb: empty },
    };
    writeFileSync(values.out, JSON.stringify(result, null, 2));
  }
}

void main();
