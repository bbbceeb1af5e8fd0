/**
 * Ingest throughput: steps/s and layer values/s that the endpoint validates, stores and records,
 * fed by separate client processes, against a bare `ws` server that only parses the same frames
 * (the transport's ceiling on this machine). Also the endpoint's event-loop delay while loaded.
 *   node --import tsx bench/ingest.ts [--quick] [--seconds S] [--repeats R] [--out FILE]
 */
import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Hub } from '../src/ingest/hub';
import { RunStore } from '../src/runs/runStore';
import { GradientServer } from '../src/server/server';
import { startBareServer } from './bare-server';
import { median, spread } from './stats';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, seconds: { type: 'string' }, repeats: { type: 'string' }, out: { type: 'string' } } });
const quick = values.quick ?? false;
const seconds = Number(values.seconds ?? (quick ? 0.5 : 3));
const repeats = Number(values.repeats ?? (quick ? 1 : 3));
const TOKEN = 'bench';

interface Config {
  layers: number;
  runs: number;
}

const configs: Config[] = quick
  ? [{ layers: 100, runs: 1 }, { layers: 100, runs: 4 }]
  : [1, 100, 1000].flatMap((layers) => [1, 8, 64].map((runs) => ({ layers, runs })));

/** Steps per frame so a frame stays well under the 1 MiB limit. */
const perFrame = (layers: number): number => Math.max(1, Math.min(200, Math.floor(200_000 / (layers * 8 + 100))));

interface Measure {
  stepsPerSecond: number;
  maxLoopDelayMs: number;
  p99LoopDelayMs: number;
}

async function measure(target: 'bare' | 'endpoint', c: Config): Promise<Measure> {
  let steps = 0;
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gm-bench-ingest-'));
  let url: string;
  let close: () => Promise<void>;
  if (target === 'bare') {
    const bare = await startBareServer((n) => (steps += n));
    url = bare.url;
    close = bare.close;
  } else {
    const hub = new Hub(new RunStore(), logDir);
    hub.on('steps', (_run, n) => (steps += n));
    const server = new GradientServer(hub, { port: 0, token: TOKEN, maxMessagesPerSecond: 1e9 });
    url = (await server.listen()).url;
    close = async () => {
      await server.close();
      await hub.close();
    };
  }
  const clients: ChildProcess[] = [];
  for (let i = 0; i < c.runs; i++) {
    clients.push(fork(path.join(__dirname, 'ingest-client.ts'), [url, TOKEN, `bench-run-${i}`, String(c.layers), String(perFrame(c.layers)), '4'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  // Warm up until every client streams, then measure a fixed window.
  const deadline = Date.now() + 30_000;
  while (steps < c.runs * perFrame(c.layers) * 4 && Date.now() < deadline) await sleep(50);
  await sleep(300);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const s0 = steps;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const s1 = steps;
  const t1 = performance.now();
  delay.disable();
  await Promise.all(clients.map((p) => new Promise((r) => (p.send('stop'), p.once('exit', r)))));
  await close();
  rmSync(logDir, { recursive: true, force: true });
  return { stepsPerSecond: ((s1 - s0) / (t1 - t0)) * 1000, maxLoopDelayMs: delay.max / 1e6, p99LoopDelayMs: delay.percentile(99) / 1e6 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  console.log(`ingest benchmark: ${seconds}s windows, ${repeats} repeats, ${os.cpus().length} cores, node ${process.version}`);
  console.log('| layers | runs | bare ws steps/s | endpoint steps/s | ratio | layer values/s | loop delay p99 / max (ms) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const c of configs) {
    const bare: number[] = [];
    const ours: Measure[] = [];
    for (let r = 0; r < repeats; r++) {
      bare.push((await measure('bare', c)).stepsPerSecond);
      ours.push(await measure('endpoint', c));
    }
    const b = median(bare);
    const o = median(ours.map((m) => m.stepsPerSecond));
    const row = {
      ...c,
      bareStepsPerSecond: b,
      bareSpread: spread(bare),
      endpointStepsPerSecond: o,
      endpointSpread: spread(ours.map((m) => m.stepsPerSecond)),
      ratio: o / b,
      layerValuesPerSecond: o * c.layers,
      loopDelayP99Ms: median(ours.map((m) => m.p99LoopDelayMs)),
      loopDelayMaxMs: Math.max(...ours.map((m) => m.maxLoopDelayMs)),
    };
    rows.push(row);
    console.log(`| ${c.layers} | ${c.runs} | ${fmt(b)} ± ${fmt(row.bareSpread)} | ${fmt(o)} ± ${fmt(row.endpointSpread)} | ${(row.ratio * 100).toFixed(0)}% | ${fmt(row.layerValuesPerSecond)} | ${row.loopDelayP99Ms.toFixed(1)} / ${row.loopDelayMaxMs.toFixed(1)} |`);
  }
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), cores: os.cpus().length, seconds, repeats, rows }, null, 2));
  }
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

void main();
