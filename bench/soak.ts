/**
 * Soak: many concurrent runs streaming at a steady rate for minutes, clients in separate processes
 * so that the endpoint's event loop is measured honestly. Samples the endpoint's memory and
 * event-loop delay (perf_hooks.monitorEventLoopDelay) every 5 s, then checks every run's log for
 * lost or doubled steps, and writes the samples as JSON and an SVG chart under bench/results/.
 *
 *   npm run bench:soak -- [--minutes 1] [--runs 64] [--rate 100] [--processes 4] [--layers 16]
 *
 * Series are kept short (--recent-steps 1024, --envelope-buckets 512) so that every run's memory
 * reaches its bound within the first half minute: after that, growth would be a leak, not data.
 * The heap is measured after a forced GC at the end of the warm-up (a quarter of the run, at least
 * 30 s) and at the end; their difference is the leak verdict.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { Hub } from '../src/ingest/hub';
import { readRunLog } from '../src/logs/reader';
import { RunStore } from '../src/runs/runStore';
import { DEFAULT_SERIES_LIMITS } from '../src/runs/series';
import { GradientServer } from '../src/server/server';
import { median } from './stats';
import { Sample, soakChart } from './soak-chart';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    runs: { type: 'string' },
    rate: { type: 'string' },
    processes: { type: 'string' },
    layers: { type: 'string' },
    'recent-steps': { type: 'string' },
    'envelope-buckets': { type: 'string' },
  },
});
const minutes = Number(values.minutes ?? 1);
const runCount = Number(values.runs ?? 64);
const rate = Number(values.rate ?? 100);
const processes = Number(values.processes ?? 4);
const layers = Number(values.layers ?? 16);
const seconds = Math.round(minutes * 60);
const SAMPLE_MS = 5000;
/** monitorEventLoopDelay records whole timer intervals; the delay is what exceeds this resolution. */
const RESOLUTION_MS = 10;
const TOKEN = 'soak-token';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function main(): Promise<void> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'gm-soak-'));
  const series = {
    ...DEFAULT_SERIES_LIMITS,
    recentSteps: Number(values['recent-steps'] ?? 1024),
    envelopeBuckets: Number(values['envelope-buckets'] ?? 512),
  };
  const hub = new Hub(new RunStore({ series, maxRuns: runCount + 16 }), logDir);
  const server = new GradientServer(hub, { port: 0, token: TOKEN });
  const { url } = await server.listen();
  let applied = 0;
  hub.on('steps', (_run, n) => (applied += n));

  // The machine's own jitter (other processes share its cores): the same measurement, idle.
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  await new Promise((r) => setTimeout(r, SAMPLE_MS));
  const idle = { p50: excessMs(loop.percentile(50)), p99: excessMs(loop.percentile(99)), max: excessMs(loop.max) };
  loop.reset();

  const runIds = Array.from({ length: runCount }, (_, i) => `soak-${String(i).padStart(2, '0')}`);
  const pending = new Map<number, number>();
  const done: {
    stepsPerRun: number;
    runs: string[];
    errors: { code: string; message: string }[];
    reconnects: number;
  }[] = [];
  const children = Array.from({ length: processes }, (_, p) => {
    const mine = runIds.filter((_, i) => i % processes === p);
    const child = fork(
      path.join(__dirname, 'soak-client.ts'),
      [url, TOKEN, mine.join(','), String(rate), String(layers), String(seconds)],
      { execArgv: ['--import', 'tsx'] },
    );
    child.on('message', (m: { kind: string; pending?: number } & (typeof done)[number]) => {
      if (m.kind === 'progress') pending.set(p, m.pending ?? 0);
      else if (m.kind === 'done') done.push(m);
    });
    return child;
  });
  console.log(
    `soak: ${runCount} runs x ${rate} steps/s x ${layers} layers for ${minutes} min, clients in ${processes} processes, endpoint ${url}`,
  );

  const samples: Sample[] = [];
  const t0 = Date.now();
  let lastApplied = 0;
  let lastAt = t0;
  let lastCpu = process.cpuUsage();
  const warmupMs = Math.max(30_000, (seconds * 1000) / 4);
  let heapAfterWarmup = NaN;
  const sampler = setInterval(() => {
    const now = Date.now();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    samples.push({
      minutes: (now - t0) / 60_000,
      rssMB: mem.rss / 2 ** 20,
      heapUsedMB: mem.heapUsed / 2 ** 20,
      externalMB: (mem.external + mem.arrayBuffers) / 2 ** 20,
      loopP50ms: excessMs(loop.percentile(50)),
      loopP99ms: excessMs(loop.percentile(99)),
      loopMaxMs: excessMs(loop.max),
      stepsPerSecond: ((applied - lastApplied) * 1000) / (now - lastAt),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / (now - lastAt)) * 100,
      clientPending: [...pending.values()].reduce((a, b) => a + b, 0),
    });
    lastApplied = applied;
    lastAt = now;
    const s = samples[samples.length - 1];
    console.log(
      `${s.minutes.toFixed(2)} min  rss ${s.rssMB.toFixed(0)} MB  heap ${s.heapUsedMB.toFixed(1)} MB  loop p99 ${s.loopP99ms.toFixed(1)} ms max ${s.loopMaxMs.toFixed(1)} ms  ${s.stepsPerSecond.toFixed(0)} steps/s  cpu ${s.cpuPercent.toFixed(0)}%`,
    );
    if (Number.isNaN(heapAfterWarmup) && now - t0 >= warmupMs) {
      gc();
      heapAfterWarmup = process.memoryUsage().heapUsed / 2 ** 20;
      setTimeout(() => loop.reset(), 100); // the forced GC's pause is ours, not the endpoint's
    } else {
      loop.reset();
    }
  }, SAMPLE_MS);

  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  clearInterval(sampler);
  loop.disable();
  gc();
  const heapAtEnd = process.memoryUsage().heapUsed / 2 ** 20;
  await new Promise((r) => setTimeout(r, 300)); // the clients' closing handshakes
  const connectionsAtEnd = server.connectionCount;
  await server.close();
  await hub.close();

  // Every step each client sent must be in its run's log exactly once.
  let expected = 0;
  let lost = 0;
  let doubled = 0;
  for (const d of done) {
    for (const run of d.runs) {
      const seen = new Set<number>();
      let lines = 0;
      await readRunLog(hub.logPath(run), (m) => {
        if (m.type !== 'step') return;
        lines++;
        seen.add(m.step);
      });
      expected += d.stepsPerRun;
      doubled += lines - seen.size;
      for (let s = 0; s < d.stepsPerRun; s++) if (!seen.has(s)) lost++;
    }
  }
  const errors = done.flatMap((d) => d.errors);
  const steady = samples.filter((s) => s.minutes * 60_000 >= warmupMs);
  const summary = {
    minutes,
    runs: runCount,
    stepsPerSecondPerRun: rate,
    layers,
    clientProcesses: processes,
    clientsReported: done.reduce((n, d) => n + d.runs.length, 0),
    stepsExpected: expected,
    stepsLost: lost,
    stepsDoubled: doubled,
    errorFrames: errors.length,
    reconnects: done.reduce((n, d) => n + d.reconnects, 0),
    connectionsLeftOpen: connectionsAtEnd,
    heapAfterWarmupMB: round(heapAfterWarmup),
    heapAtEndMB: round(heapAtEnd),
    rssMaxMB: round(Math.max(...samples.map((s) => s.rssMB))),
    rssSteadyFirstMB: round(steady[0]?.rssMB ?? NaN),
    rssSteadyLastMB: round(steady[steady.length - 1]?.rssMB ?? NaN),
    idleLoopP99Ms: round(idle.p99),
    idleLoopMaxMs: round(idle.max),
    loopP50MedianMs: round(median(samples.map((s) => s.loopP50ms))),
    loopP99MedianMs: round(median(samples.map((s) => s.loopP99ms))),
    loopP99WorstMs: round(Math.max(...samples.map((s) => s.loopP99ms))),
    loopMaxWorstMs: round(Math.max(...samples.map((s) => s.loopMaxMs))),
    stepsPerSecondMedian: round(median(samples.map((s) => s.stepsPerSecond))),
    endpointCpuPercentMedian: round(median(samples.map((s) => s.cpuPercent))),
  };
  console.log(JSON.stringify(summary, null, 2));

  const results = path.join(__dirname, 'results');
  mkdirSync(results, { recursive: true });
  const name = `soak-${minutes}min`;
  writeFileSync(path.join(results, `${name}.json`), JSON.stringify({ summary, samples }, null, 2));
  writeFileSync(path.join(results, `${name}.svg`), soakChart(samples, { runs: runCount, rate, minutes, idle }));
  console.log(`wrote bench/results/${name}.json and bench/results/${name}.svg`);
  rmSync(logDir, { recursive: true, force: true });
  const leakMB = heapAtEnd - heapAfterWarmup;
  const ok =
    lost === 0 &&
    doubled === 0 &&
    errors.length === 0 &&
    summary.clientsReported === runCount &&
    connectionsAtEnd === 0 &&
    leakMB < 5;
  console.log(
    ok
      ? `soak passed: nothing lost or doubled, heap ${leakMB >= 0 ? '+' : ''}${leakMB.toFixed(1)} MB after warm-up`
      : 'soak FAILED',
  );
  process.exit(ok ? 0 : 1);
}

function excessMs(ns: number): number {
  return Math.max(0, ns / 1e6 - RESOLUTION_MS);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

void main();
