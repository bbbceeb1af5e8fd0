/**
 * Log loading benchmark: a 1,000,000-step run log with 8 layers (about 300 MB of NDJSON), loaded by
 * the streaming loader (src/runs/loadRun.ts) against a naive readFile + split + JSON.parse, plus the
 * naive read replayed into a Run (the same end product as the loader). Each measurement runs in a
 * fresh process so peak memory is its own. Reports medians of several runs: total time, MB/s, time
 * to the first partial result (a first chart), the longest event-loop stall, and peak RSS.
 *
 *   node --import tsx bench/log-loading.ts [--steps 1000000] [--runs 5] [--tensorboard-steps 100000]
 *       [--workers 1,2,4,8] [--out FILE.json]
 * (--workers adds the loader with each of those worker counts; by default it uses one per CPU.)
 *   node --import tsx bench/log-loading.ts --quick     (CI smoke: tiny sizes, one run, nothing judged)
 *
 * The logs are generated once into the OS temp folder and reused.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULT_ALERT_SETTINGS } from '../src/alerts/rules';
import { runStartFor, syntheticSteps } from '../src/cli/synthetic';
import { parseJsonAllowingNonFinite, stringifyKeepingNonFinite } from '../src/protocol/json';
import { validateMessage } from '../src/protocol/validate';
import { loadRun } from '../src/runs/loadRun';
import { Run } from '../src/runs/runStore';
import { DEFAULT_SERIES_LIMITS } from '../src/runs/series';
import { encodeEvent, frameRecord } from '../test/helpers/tfeventsWriter';
import { median } from './stats';

const METHODS = ['naive-parse', 'naive-into-run', 'loader-main-thread', 'loader-workers'] as const;
/** `loader-workers-N`: the loader with N worker threads (--workers), to see how it scales with cores. */
type Method = (typeof METHODS)[number] | 'tensorboard-loader' | `loader-workers-${number}`;

interface Measurement {
  ms: number;
  /** CPU time of the whole process, every thread (user + system). */
  cpuMs: number;
  firstResultMs: number;
  maxStallMs: number;
  peakRssMB: number;
  steps: number;
}

function workerCountOf(method: Method): number | undefined {
  const n = /^loader-workers-(\d+)$/.exec(method)?.[1];
  return n === undefined ? undefined : Number(n);
}

// ---- one measurement, in a child process ----
async function measure(method: Method, file: string): Promise<Measurement> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let firstResultMs = NaN;
  let steps = 0;
  if (method === 'naive-parse') {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      if ((JSON.parse(line) as { type: string }).type === 'step') steps++;
    }
  } else if (method === 'naive-into-run') {
    const run = new Run('bench', DEFAULT_ALERT_SETTINGS, DEFAULT_SERIES_LIMITS, Date.now());
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const v = validateMessage(parseJsonAllowingNonFinite(line));
      if (!('ok' in v)) continue;
      const m = v.ok;
      if (m.type === 'step') run.step(m);
      else if (m.type === 'run_start') run.start(m);
      else run.end(m);
    }
    steps = run.stepCount;
  } else {
    const loaded = await loadRun(file, {
      // The bundled worker, as the extension runs it (`npm run bench` builds first).
      parallel:
        method === 'loader-main-thread'
          ? { workers: 0 }
          : { workerScript: path.resolve(__dirname, '../dist/logParseWorker.js'), workers: workerCountOf(method) },
      onProgress: (p) => {
        if (Number.isNaN(firstResultMs) && p.steps > 0) firstResultMs = performance.now() - t0;
      },
    });
    steps = loaded.run?.stepCount ?? 0;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    firstResultMs: Number.isNaN(firstResultMs) ? ms : firstResultMs,
    // A loop blocked for the whole load shows up as one long delay of the monitor's timer.
    maxStallMs: Math.max(delay.max / 1e6, method.startsWith('naive') ? ms : 0),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    steps,
  };
}

// ---- fixtures ----
async function ensureRunLog(steps: number): Promise<string> {
  const file = path.join(tmpdir(), `gradient-monitor-bench-${steps}-8layers.jsonl`);
  if (existsSync(file)) return file;
  const o = { runId: 'bench', steps, spikeAt: Math.floor(steps / 2), nanAt: Math.floor((steps * 3) / 4), seed: 7 };
  const temp = `${file}.tmp`;
  const out = createWriteStream(temp);
  const write = (text: string): Promise<void> | undefined =>
    out.write(text) ? undefined : new Promise((r) => out.once('drain', () => r()));
  await write(stringifyKeepingNonFinite(runStartFor(o)) + '\n');
  let batch: string[] = [];
  for (const m of syntheticSteps(o)) {
    batch.push(stringifyKeepingNonFinite(m));
    if (batch.length === 10_000) {
      await write(batch.join('\n') + '\n');
      batch = [];
    }
  }
  await write(
    batch.join('\n') +
      (batch.length ? '\n' : '') +
      JSON.stringify({ type: 'run_end', run_id: 'bench', status: 'completed' }) +
      '\n',
  );
  await new Promise<void>((r) => out.end(r));
  renameSync(temp, file);
  return file;
}

/** An event file as PyTorch's SummaryWriter writes it: one event per tag and step (total + 8 layers). */
function ensureEventFile(steps: number): string {
  const dir = path.join(tmpdir(), `gradient-monitor-bench-tb-${steps}`);
  const file = path.join(dir, 'events.out.tfevents.1700000000.bench');
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const chunks: Buffer[] = [frameRecord(encodeEvent({ step: 0, fileVersion: 'brain.Event:2' }))];
  const layers = Array.from({ length: 8 }, (_, i) => `layer${i}`);
  for (let s = 0; s < steps; s++) {
    chunks.push(frameRecord(encodeEvent({ step: s, values: [{ tag: 'train/grad_norm', simple: 1 + (s % 13) / 13 }] })));
    for (const l of layers)
      chunks.push(frameRecord(encodeEvent({ step: s, values: [{ tag: `grad_norm/${l}`, simple: 0.3 }] })));
  }
  writeFileSync(`${file}.tmp`, Buffer.concat(chunks));
  renameSync(`${file}.tmp`, file);
  return file;
}

// ---- driver ----
/**
 * A method that cannot load the file at all (a naive read of a file beyond V8's longest string)
 * counts as failed, NaN everywhere.
 */
function runChild(method: Method, file: string): Measurement {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', method, '--file', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
  } catch (e) {
    const reason =
      ((e as { stderr?: string }).stderr ?? String(e)).split('\n').find((l) => /Error/.test(l)) ?? 'failed';
    console.log(`${method} failed: ${reason.trim()}`);
    return { ms: NaN, cpuMs: NaN, firstResultMs: NaN, maxStallMs: NaN, peakRssMB: NaN, steps: 0 };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string' },
      runs: { type: 'string' },
      'tensorboard-steps': { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      child: { type: 'string' },
      workers: { type: 'string' },
      file: { type: 'string' },
    },
  });
  if (values.child) {
    process.stdout.write(JSON.stringify(await measure(values.child as Method, values.file!)) + '\n');
    return;
  }
  const steps = Number(values.steps ?? (values.quick ? 2_000 : 1_000_000));
  const runs = Number(values.runs ?? (values.quick ? 1 : 5));
  const tbSteps = Number(values['tensorboard-steps'] ?? (values.quick ? 500 : 100_000));
  const log = await ensureRunLog(steps);
  const logMB = statSync(log).size / 1e6;
  const tb = tbSteps > 0 ? ensureEventFile(tbSteps) : undefined;
  const workerCounts = values.workers ? values.workers.split(',').map(Number) : [];
  const methods: Method[] = [...METHODS, ...workerCounts.map((n) => `loader-workers-${n}` as const)];
  const cases: { method: Method; file: string; mb: number }[] = methods.map((method) => ({
    method,
    file: log,
    mb: logMB,
  }));
  if (tb) cases.push({ method: 'tensorboard-loader', file: tb, mb: statSync(tb).size / 1e6 });

  const results: Record<string, Measurement[]> = {};
  // Interleaved rounds, so drift on a shared machine touches every method alike.
  for (let r = 0; r < runs; r++) for (const c of cases) (results[c.method] ??= []).push(runChild(c.method, c.file));

  console.log(
    `log: ${steps.toLocaleString('en-US')} steps, 8 layers, ${logMB.toFixed(0)} MB NDJSON; medians of ${runs} runs, each in a fresh process (node ${process.version})\n`,
  );
  console.log(
    '| method | file | steps | total s | MB/s | CPU s (all threads) | first result s | longest event-loop stall ms | peak RSS MB |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cases) {
    const m = results[c.method];
    const total = median(m.map((x) => x.ms)) / 1000;
    console.log(
      `| ${c.method} | ${c.mb.toFixed(0)} MB | ${m[0].steps.toLocaleString('en-US')} | ${total.toFixed(2)} | ${(c.mb / total).toFixed(0)} | ${(median(m.map((x) => x.cpuMs)) / 1000).toFixed(2)} | ${(median(m.map((x) => x.firstResultMs)) / 1000).toFixed(3)} | ${median(m.map((x) => x.maxStallMs)).toFixed(0)} | ${median(m.map((x) => x.peakRssMB)).toFixed(0)} |`,
    );
  }
  if (values.out) writeFileSync(values.out, JSON.stringify({ steps, runs, logMB, results }, null, 2));
}

void main();
