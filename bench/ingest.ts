/**
 * Ingest throughput: steps/s and layer values/s that the endpoint validates, stores and records,
 * fed by separate client processes, against a bare `ws` server that only parses the same frames
 * (the transport's ceiling on this machine). Also the server process's CPU time per step (steadier
 * than rates on a shared machine) and how long its event loop went without a turn while loaded
 * (see loop-monitor.ts; the bare server, which has no flow control, shows what that costs).
 *   node --import tsx bench/ingest.ts [--quick] [--seconds S] [--repeats R] [--out FILE]
 *     [--layers 1,100,1000] [--runs 1,8,64] [--baseline DIR [--baseline-lines]]
 * --baseline DIR also measures the endpoint of another checkout (DIR/src, e.g. `git worktree add
 * /tmp/base main`) on array frames, the only shape older endpoints read: a before/after in one run.
 * --baseline-lines measures it on line-delimited frames too, for a baseline that reads them.
 * --queue-bytes N sets the endpoint's flow limit (received bytes waiting before reading pauses).
 */
import { ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { DEFAULT_FLOW_LIMITS } from '../src/server/flow';
import { startBareServer } from './bare-server';
import { LoopDelay, monitorLoop } from './loop-monitor';
import { median, spread } from './stats';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    repeats: { type: 'string' },
    out: { type: 'string' },
    layers: { type: 'string' },
    runs: { type: 'string' },
    baseline: { type: 'string' },
    'baseline-lines': { type: 'boolean' },
    'queue-bytes': { type: 'string' },
  },
});
const quick = values.quick ?? false;
const seconds = Number(values.seconds ?? (quick ? 0.5 : 3));
const repeats = Number(values.repeats ?? (quick ? 1 : 3));
const TOKEN = 'bench';
const MAX_CLIENT_PROCESSES = 8;
const FRAMES_IN_FLIGHT = 4;

type Format = 'ndjson' | 'array';
interface Config {
  layers: number;
  runs: number;
  format: Format;
}

const list = (s: string | undefined, fallback: number[]): number[] => (s ? s.split(',').map(Number) : fallback);
const layerCounts = list(values.layers, quick ? [100] : [1, 100, 1000]);
const runCounts = list(values.runs, quick ? [1, 4] : [1, 8, 64]);
const configs: Config[] = [
  ...layerCounts.flatMap((layers) => runCounts.map((runs) => ({ layers, runs, format: 'ndjson' as const }))),
  // Array frames: what clients sent before line-delimited batches, still accepted.
  ...runCounts.filter((runs) => !quick || runs === 1).map((runs) => ({ layers: 100, runs, format: 'array' as const })),
];

/** Steps per frame so a frame stays well under the 1 MiB limit. */
const perFrame = (layers: number): number => Math.max(1, Math.min(200, Math.floor(200_000 / (layers * 8 + 100))));

interface EndpointModules {
  Hub: typeof import('../src/ingest/hub').Hub;
  RunStore: typeof import('../src/runs/runStore').RunStore;
  GradientServer: typeof import('../src/server/server').GradientServer;
}

async function loadEndpoint(root: string): Promise<EndpointModules> {
  const [{ Hub }, { RunStore }, { GradientServer }] = await Promise.all([
    import(path.join(root, 'src/ingest/hub.ts')),
    import(path.join(root, 'src/runs/runStore.ts')),
    import(path.join(root, 'src/server/server.ts')),
  ]);
  return { Hub, RunStore, GradientServer };
}

interface Measure {
  stepsPerSecond: number;
  cpuMicrosPerStep: number;
  loop: LoopDelay;
}

/** The client, bundled once so that 64 client processes start in milliseconds. */
function buildClient(dir: string): string {
  const outfile = path.join(dir, 'ingest-client.js');
  buildSync({
    entryPoints: [path.join(__dirname, 'ingest-client.ts')],
    bundle: true,
    platform: 'node',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

async function measure(
  client: string,
  endpoint: EndpointModules | undefined,
  c: Config,
  serverOptions: Record<string, unknown> = {},
): Promise<Measure> {
  let steps = 0;
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gm-bench-ingest-'));
  let url: string;
  let close: () => Promise<void>;
  if (!endpoint) {
    const bare = await startBareServer((n) => (steps += n));
    url = bare.url;
    close = bare.close;
  } else {
    const hub = new endpoint.Hub(new endpoint.RunStore(), logDir);
    hub.on('steps', (_run, n) => (steps += n));
    const server = new endpoint.GradientServer(hub, {
      port: 0,
      token: TOKEN,
      maxMessagesPerSecond: 1e9,
      ...serverOptions,
    });
    url = (await server.listen()).url;
    close = async () => {
      await server.close();
      await hub.close();
    };
  }
  const processes = Math.min(c.runs, MAX_CLIENT_PROCESSES);
  const clients: ChildProcess[] = [];
  const streaming: Promise<unknown>[] = [];
  for (let p = 0; p < processes; p++) {
    const runIds = Array.from({ length: c.runs }, (_, i) => `bench-run-${i}`).filter((_, i) => i % processes === p);
    const args = [
      url,
      TOKEN,
      runIds.join(','),
      String(c.layers),
      String(perFrame(c.layers)),
      String(FRAMES_IN_FLIGHT),
      c.format,
    ];
    const child = fork(client, args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    clients.push(child);
    streaming.push(new Promise((r) => child.once('message', r)));
  }
  // Warm up until every connection streams, then measure a fixed window.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(streaming), new Promise((r) => (timer = setTimeout(r, 60_000)))]);
  clearTimeout(timer);
  await sleep(300);
  const loop = monitorLoop();
  const s0 = steps;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const s1 = steps;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const delay = loop.stop();
  await Promise.all(clients.map((p) => new Promise((r) => (p.send('stop'), p.once('exit', r)))));
  await close();
  rmSync(logDir, { recursive: true, force: true });
  return {
    stepsPerSecond: ((s1 - s0) / (t1 - t0)) * 1000,
    cpuMicrosPerStep: (cpu.user + cpu.system) / Math.max(1, s1 - s0),
    loop: delay,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Summary {
  stepsPerSecond: number;
  stepsSpread: number;
  cpuMicrosPerStep: number;
  /** Medians of the p99s, maxima of the maxima over the repeats. */
  loop: LoopDelay;
}

function summarize(measures: Measure[]): Summary {
  const rates = measures.map((m) => m.stepsPerSecond);
  const loops = measures.map((m) => m.loop);
  return {
    stepsPerSecond: median(rates),
    stepsSpread: spread(rates),
    cpuMicrosPerStep: median(measures.map((m) => m.cpuMicrosPerStep)),
    loop: {
      wallP99Ms: median(loops.map((l) => l.wallP99Ms)),
      wallMaxMs: Math.max(...loops.map((l) => l.wallMaxMs)),
      cpuP99Ms: median(loops.map((l) => l.cpuP99Ms)),
      cpuMaxMs: Math.max(...loops.map((l) => l.cpuMaxMs)),
    },
  };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gm-bench-client-'));
  const client = buildClient(tmp);
  const current = await loadEndpoint(path.join(__dirname, '..'));
  const flowOptions = values['queue-bytes']
    ? { flow: { ...DEFAULT_FLOW_LIMITS, maxQueuedBytes: Number(values['queue-bytes']) } }
    : {};
  const baseline = values.baseline ? await loadEndpoint(path.resolve(values.baseline)) : undefined;
  const rows: Record<string, unknown>[] = [];
  console.log(
    `ingest benchmark: ${seconds}s windows, ${repeats} repeats (interleaved), ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  console.log(
    '| layers | runs | frames | bare ws steps/s | endpoint steps/s | ratio | layer values/s | CPU µs/step bare / endpoint | loop busy (CPU ms) p99 / max: bare; endpoint | loop delay (wall ms) p99 / max: bare; endpoint |' +
      (baseline ? ' baseline steps/s |' : ''),
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |' + (baseline ? ' --- |' : ''));
  for (const c of configs) {
    const bare: Measure[] = [];
    const ours: Measure[] = [];
    const base: Measure[] = [];
    for (let r = 0; r < repeats; r++) {
      bare.push(await measure(client, undefined, c));
      ours.push(await measure(client, current, c, flowOptions));
      if (baseline && (c.format === 'array' || values['baseline-lines'])) base.push(await measure(client, baseline, c));
    }
    const b = summarize(bare);
    const o = summarize(ours);
    const row = {
      ...c,
      stepsPerFrame: perFrame(c.layers),
      bare: b,
      endpoint: o,
      ratio: o.stepsPerSecond / b.stepsPerSecond,
      cpuRatio: b.cpuMicrosPerStep / o.cpuMicrosPerStep,
      layerValuesPerSecond: o.stepsPerSecond * c.layers,
      ...(base.length ? { baseline: summarize(base) } : {}),
    };
    rows.push(row);
    const baseCell = baseline
      ? row.baseline
        ? ` ${fmt(row.baseline.stepsPerSecond)} ± ${fmt(row.baseline.stepsSpread)} (${((row.baseline.stepsPerSecond / b.stepsPerSecond) * 100).toFixed(0)}%) |`
        : ' - |'
      : '';
    console.log(
      `| ${c.layers} | ${c.runs} | ${c.format} | ${fmt(b.stepsPerSecond)} ± ${fmt(b.stepsSpread)} | ${fmt(o.stepsPerSecond)} ± ${fmt(o.stepsSpread)} | ${(row.ratio * 100).toFixed(0)}% | ${fmt(row.layerValuesPerSecond)} ` +
        `| ${b.cpuMicrosPerStep.toFixed(1)} / ${o.cpuMicrosPerStep.toFixed(1)} | ${cpuLoop(b.loop)}; ${cpuLoop(o.loop)} | ${wallLoop(b.loop)}; ${wallLoop(o.loop)} |${baseCell}`,
    );
  }
  rmSync(tmp, { recursive: true, force: true });
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(
      values.out,
      JSON.stringify(
        { date: new Date().toISOString(), cores: os.cpus().length, node: process.version, seconds, repeats, rows },
        null,
        2,
      ),
    );
  }
}

const cpuLoop = (l: LoopDelay): string => `${l.cpuP99Ms.toFixed(0)} / ${l.cpuMaxMs.toFixed(0)}`;
const wallLoop = (l: LoopDelay): string => `${l.wallP99Ms.toFixed(0)} / ${l.wallMaxMs.toFixed(0)}`;

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

void main();
