/**
 * Baselines for bench/dashboard.ts: a plain page in the same Chromium that draws the same points
 * as the dashboard's norm and layer charts (the total norm and every layer, one point per step)
 * with chart.js without decimation, or with uPlot (which thins lines to pixels as it draws), and
 * then appends 100 steps and draws again, as a streaming update would.
 */
import { createServer, Server } from 'node:http';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { CHROMIUM_ARGS, REPO } from '../test/helpers/dashboardPage';

export type BaselineLibrary = 'chartjs' | 'uplot';

export interface BaselineResult {
  /** From handing the data to the library to the end of the first draw (ms). */
  firstDrawMs: number;
  /** Appending 100 steps to every series and drawing again (ms), median of the updates. */
  updateMs: number;
  updates: number[];
}

const SCRIPTS: Record<BaselineLibrary, string> = {
  chartjs: 'node_modules/chart.js/dist/chart.umd.js',
  uplot: 'node_modules/uplot/dist/uPlot.iife.min.js',
};

const PAGE = (library: BaselineLibrary): string => `<!doctype html><html><head><meta charset="utf-8">
${library === 'uplot' ? '<link rel="stylesheet" href="/node_modules/uplot/dist/uPlot.min.css">' : ''}
<script src="/${SCRIPTS[library]}"></script><script src="/bench/chart-baselines.page.js"></script></head>
<body style="margin:0"><div id="box" style="width:1100px;height:700px"><canvas id="c"></canvas></div></body></html>`;

function serve(library: BaselineLibrary): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE(library));
      return;
    }
    const rel = path.normalize(decodeURIComponent(url)).replace(/^\/+/, '');
    if (
      !rel.startsWith('node_modules/chart.js/dist/') &&
      !rel.startsWith('node_modules/uplot/dist/') &&
      rel !== 'bench/chart-baselines.page.js'
    ) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': rel.endsWith('.css') ? 'text/css' : 'text/javascript' })
      .end(readFileSync(path.join(REPO, rel)));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` }),
    ),
  );
}

/**
 * Draws `steps` × (1 + `layers`) points, then `updates` appends of 100 steps; undefined when it
 * outlasts `timeoutMs`.
 */
export async function baselineSample(
  library: BaselineLibrary,
  steps: number,
  layers: number,
  updates: number,
  timeoutMs: number,
): Promise<BaselineResult | undefined> {
  const { server, origin } = await serve(library);
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  try {
    const page: Page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.setDefaultTimeout(timeoutMs);
    await page.goto(origin);
    const drawn = page.evaluate(
      (a) => (window as unknown as { drawBaseline(a: unknown): Promise<BaselineResult> }).drawBaseline(a),
      { library, steps, layers, updates },
    );
    return await Promise.race([drawn, new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs))]);
  } catch (e) {
    if (process.env.BENCH_DEBUG) console.error(e);
    return undefined; // out of memory or over time: reported as not finishing
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
}
