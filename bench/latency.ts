/**
 * Latency from a client's send to the dashboard having drawn that step, under a steady stream of
 * 1,000 steps/s. Everything on the way is real: a client process streaming over a websocket to
 * the endpoint (GradientServer + Hub), the live Hub feeding a DashboardSession, and the real
 * webview bundle in Chromium. The session's messages reach the page through Playwright (as VS
 * Code's postMessage would, with typed arrays intact) and the page's come back the same way.
 * The page logs each drawn frame's wall-clock end and the newest step it drew (latency-bridge.ts);
 * the client logs when it sent each frame. Both clocks are this machine's wall clock.
 * --intervals lists the session's update intervals to compare (ms; default: 100, the interval of
 * 10 updates/s used before, and the current 1000 / MAX_UPDATES_PER_SECOND), measured alternately.
 *   node --import tsx bench/latency.ts [--quick] [--seconds S] [--rate 1000] [--layers 8] [--intervals 100,50]
 *       [--repeats R] [--out FILE]
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { DashboardSession } from '../src/dashboard/session';
import { hubRunSource } from '../src/dashboard/runSource';
import { Hub } from '../src/ingest/hub';
import { RunStore } from '../src/runs/runStore';
import { GradientServer } from '../src/server/server';
import { HostMessage, MAX_UPDATES_PER_SECOND } from '../src/shared/webviewProtocol';
import { openDashboardPage } from '../test/helpers/dashboardPage';
import { quantile } from './stats';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    layers: { type: 'string' },
    intervals: { type: 'string' },
    repeats: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const SECONDS = Number(values.seconds ?? (quick ? 3 : 20));
const RATE = Number(values.rate ?? 1000);
const LAYERS = Number(values.layers ?? 8);
/** Frames of 10 steps every 10 ms at 1,000 steps/s (a client batches what one interval produced). */
const PER_FRAME = Math.max(1, Math.round(RATE / 100));
/** The first seconds (page start, first snapshot) are left out. */
const WARMUP_S = quick ? 1 : 3;
const INTERVALS = (
  values.intervals ?? (quick ? String(1000 / MAX_UPDATES_PER_SECOND) : `100,${1000 / MAX_UPDATES_PER_SECOND}`)
)
  .split(',')
  .map(Number);
const REPEATS = Number(values.repeats ?? (quick ? 1 : 2));
const TOKEN = 'bench';
const RUN = 'latency';

interface Latency {
  intervalMs: number;
  latencies: number[];
  framesPerSecond: number;
  missing: number;
}

async function measure(intervalMs: number): Promise<Latency> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gm-bench-latency-'));
  const hub = new Hub(new RunStore(), path.join(tmp, 'logs'));
  const server = new GradientServer(hub, { port: 0, token: TOKEN });
  const { url } = await server.listen();
  let deliver: (m: HostMessage) => void = () => undefined;
  const session = new DashboardSession(hubRunSource(hub), (m) => deliver(m), { updateIntervalMs: intervalMs });
  const dashboard = await openDashboardPage({
    standIn: path.join(__dirname, 'latency-bridge.ts'),
    beforeLoad: async (page) => {
      await page.exposeFunction('__toHost', (json: string) => session.handle(JSON.parse(json)));
    },
  });
  const page = dashboard.page;
  // Messages reach the page in order, one evaluate at a time (VS Code's postMessage keeps order too).
  let delivered = Promise.resolve();
  deliver = (m) => {
    delivered = delivered
      .then(() => page.evaluate((msg) => window.postMessage(msg, '*'), m as unknown as Record<string, unknown>))
      .catch(() => undefined);
  };

  const client = path.join(tmp, 'latency-client.js');
  buildSync({
    entryPoints: [path.join(__dirname, 'latency-client.ts')],
    bundle: true,
    platform: 'node',
    outfile: client,
    logLevel: 'error',
  });
  const child = fork(client, [url, TOKEN, RUN, String(LAYERS), String(RATE), String(PER_FRAME), String(SECONDS)], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  hub.once('run', (run) => session.select(run.id));
  const { sent } = await new Promise<{ sent: [number, number][] }>((resolve) =>
    child.once('message', (m) => resolve(m as { sent: [number, number][] })),
  );
  await new Promise((r) => setTimeout(r, 500)); // the last frames' draws
  const frames = await page.evaluate(() => (window as unknown as { __frames: [number, number][] }).__frames);
  await dashboard.close();
  session.dispose();
  await server.close();
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });

  // Each sent frame is drawn by the first page frame that drew its last step.
  const start = sent[0][1] + WARMUP_S * 1000;
  const latencies: number[] = [];
  let f = 0;
  let missing = 0;
  for (const [step, at] of sent) {
    if (at < start) continue;
    while (f < frames.length && frames[f][1] < step) f++;
    if (f === frames.length) {
      missing++;
      continue;
    }
    latencies.push(frames[f][0] - at);
  }
  const drawn = frames.filter(([at]) => at >= start).length;
  return { intervalMs, latencies, framesPerSecond: drawn / ((sent[sent.length - 1][1] - start) / 1000), missing };
}

async function main(): Promise<void> {
  const results = new Map<number, Latency[]>(INTERVALS.map((i) => [i, []]));
  for (let r = 0; r < REPEATS; r++) for (const i of INTERVALS) results.get(i)!.push(await measure(i));
  console.log(
    `latency, send to drawn: ${RATE} steps/s in frames of ${PER_FRAME} steps, ${LAYERS} layers, ${REPEATS} x ${SECONDS} s per interval (first ${WARMUP_S} s of each left out), alternating, Chromium ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}`,
  );
  console.log(
    '| session update interval | frames measured | p50 ms | p90 ms | p99 ms | max ms | page frames drawn per s | never drawn |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const rows = [];
  for (const [intervalMs, runs] of results) {
    const all = runs.flatMap((x) => x.latencies);
    const row = {
      intervalMs,
      measured: all.length,
      p50: quantile(all, 0.5),
      p90: quantile(all, 0.9),
      p99: quantile(all, 0.99),
      max: Math.max(...all),
      framesPerSecond: runs.reduce((n, x) => n + x.framesPerSecond, 0) / runs.length,
      missing: runs.reduce((n, x) => n + x.missing, 0),
      p99PerRepeat: runs.map((x) => quantile(x.latencies, 0.99)),
    };
    rows.push(row);
    console.log(
      `| ${intervalMs} ms | ${row.measured} | ${row.p50.toFixed(1)} | ${row.p90.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.max.toFixed(1)} | ${row.framesPerSecond.toFixed(1)} | ${row.missing} |`,
    );
  }
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(
      values.out,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          rate: RATE,
          perFrame: PER_FRAME,
          layers: LAYERS,
          seconds: SECONDS,
          warmupSeconds: WARMUP_S,
          repeats: REPEATS,
          rows,
        },
        null,
        2,
      ),
    );
  }
}

void main();
