/**
 * Memory of one very long run: 10,000,000 steps with 100 layers fed through the endpoint's own
 * decoding and Hub (validation, run store, alerts, recording), in process and without sockets,
 * sampling heap and RSS as the run grows. The log is written for real under the OS temp folder
 * and deleted at the end (about 7 GB at full size; --no-record measures without the recorder).
 *   node --expose-gc --import tsx bench/memory.ts [--quick] [--steps N] [--layers L] [--no-record] [--out FILE]
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Hub } from '../src/ingest/hub';
import { decodeFrame } from '../src/protocol/validate';
import { RunStore } from '../src/runs/runStore';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    steps: { type: 'string' },
    layers: { type: 'string' },
    'no-record': { type: 'boolean' },
    out: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const STEPS = Number(values.steps ?? (quick ? 200_000 : 10_000_000));
const LAYERS = Number(values.layers ?? 100);
const RECORD = !values['no-record'];
const PER_FRAME = 1000;
const SAMPLES = 20;
const RUN = 'long-run';

interface Sample {
  steps: number;
  seconds: number;
  heapUsedMB: number;
  arrayBuffersMB: number;
  rssMB: number;
}

const mb = (bytes: number): number => bytes / 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

function frame(first: number, normsText: string): Buffer {
  const lines: string[] = [];
  for (let step = first; step < first + PER_FRAME; step++) {
    lines.push(
      `{"type":"step","run_id":"${RUN}","step":${step},"total_norm":${(1 + (step % 13) * 0.01).toFixed(4)},"layer_norms":[${normsText}],"loss":0.5,"seq":${step}}`,
    );
  }
  return Buffer.from(lines.join('\n'));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gm-bench-memory-'));
  const hub = new Hub(new RunStore(), dir);
  if (!RECORD) hub.recorder.append = () => undefined; // the store alone
  const names = Array.from({ length: LAYERS }, (_, i) => `layers.${i}.weight`);
  await hub.ingest([{ type: 'run_start', run_id: RUN, layers: names }]);
  const normsText = Array.from({ length: LAYERS }, (_, i) => 0.01 + (i % 17) * 0.003).join(',');
  const samples: Sample[] = [];
  const t0 = performance.now();
  const sample = (steps: number): void => {
    gc?.();
    const m = process.memoryUsage();
    samples.push({
      steps,
      seconds: (performance.now() - t0) / 1000,
      heapUsedMB: mb(m.heapUsed),
      arrayBuffersMB: mb(m.arrayBuffers),
      rssMB: mb(m.rss),
    });
  };
  sample(0);
  const every = Math.max(PER_FRAME, Math.round(STEPS / SAMPLES / PER_FRAME) * PER_FRAME);
  let recorded: Promise<void> = Promise.resolve();
  for (let first = 0; first < STEPS; first += PER_FRAME) {
    const bytes = frame(first, normsText);
    const { messages, verbatim, errors } = decodeFrame(bytes.toString('utf8'), {}, bytes);
    if (errors.length > 0) throw new Error(errors[0].message);
    // Wait for the previous frame's recording, as a client waiting for acks would.
    await recorded;
    recorded = (await hub.ingest(messages, verbatim)).recorded;
    if ((first + PER_FRAME) % every === 0) sample(first + PER_FRAME);
  }
  await recorded;
  const logBytes = RECORD ? statSync(hub.logPath(RUN)).size : 0;
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
  const run = hub.store.get(RUN);
  const first = samples.find((s) => s.steps >= STEPS / 10) ?? samples[1];
  const last = samples[samples.length - 1];
  console.log(
    `memory of one run: ${STEPS.toLocaleString('en')} steps x ${LAYERS} layers through decodeFrame + Hub (${RECORD ? `recorded, ${(logBytes / 1e9).toFixed(2)} GB log written and deleted` : 'store only, no recorder'}), node ${process.version}${gc ? '' : ' (run with --expose-gc for exact heap figures)'}`,
  );
  console.log('| steps | s | heap used MB | array buffers MB | RSS MB |');
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  for (const s of samples)
    console.log(
      `| ${s.steps.toLocaleString('en')} | ${s.seconds.toFixed(1)} | ${s.heapUsedMB.toFixed(1)} | ${s.arrayBuffersMB.toFixed(1)} | ${s.rssMB.toFixed(0)} |`,
    );
  console.log(
    `growth from ${first.steps.toLocaleString('en')} to ${last.steps.toLocaleString('en')} steps: heap ${(last.heapUsedMB - first.heapUsedMB).toFixed(1)} MB, RSS ${(last.rssMB - first.rssMB).toFixed(0)} MB; ${(STEPS / last.seconds / 1000).toFixed(0)}k steps/s; run holds ${run?.stepCount.toLocaleString('en')} steps`,
  );
  if (values.out) {
    mkdirSync(path.dirname(values.out), { recursive: true });
    writeFileSync(
      values.out,
      JSON.stringify(
        { date: new Date().toISOString(), steps: STEPS, layers: LAYERS, recorded: RECORD, logBytes, samples },
        null,
        2,
      ),
    );
  }
}

void main();
