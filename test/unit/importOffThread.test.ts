/**
 * Importing with the run log written on a worker thread (src/logs/offThreadLogWriter.ts) gives the
 * same bytes as importing on one thread, for generated TensorBoard logs of several batches and for
 * every real log in ../shared/real-logs; a worker that never starts, dies, fails or stalls leaves
 * the writing to the main thread, and nothing is lost. Tables of metrics are written on one thread
 * whatever the options (their cells are written as they are: importAsText.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { convertToRunLog, ConvertOptions, NothingToImportError } from '../../src/importers/convert';
import { identifyLog, readLog, readsStepsAsText } from '../../src/importers/readLog';
import { UnreadableLogError } from '../../src/importers/sources';
import { packsExactly } from '../../src/logs/messageColumns';
import { tempDir } from '../helpers/logFiles';
import { REAL_LOGS, realLogsPresent } from '../helpers/realLogs';
import { eventFile } from '../helpers/tfeventsWriter';

const dir = tempDir('gm-offthread-');
const ALWAYS_OVERLAP: ConvertOptions = { writer: { minSourceBytes: 0 } };

/** A Lightning metrics.csv: a learning-rate row and a norms row per step, validation rows now and then, a NaN norm. */
function lightningCsv(steps: number): string {
  const lines = [
    'epoch,grad_2.0_norm/fc1.weight,grad_2.0_norm/fc2.weight,grad_2.0_norm_total,lr-SGD,step,train_loss_step,val_loss',
  ];
  for (let s = 0; s < steps; s++) {
    const norm = s === 7 ? 'nan' : String(Math.fround(0.1 + (s % 97) / 37));
    lines.push(
      `,,,,0.05,${s},,`,
      `0,${norm},${Math.fround(s / 3)},${Math.fround(1 + s / 7)},,${s},${Math.fround(2 - s / steps)},`,
    );
    if (s % 1000 === 999) lines.push(`0,,,,,${s},,${Math.fround(1.5 - s / steps)}`);
  }
  return lines.join('\n') + '\n';
}

/** The run log written on one thread, and as `overlapped` says: whether the worker wrote it all must be `offThread`. */
async function importBothWays(
  source: string,
  overlapped: ConvertOptions,
  offThread: boolean,
): Promise<[Buffer, Buffer]> {
  const name = path.basename(source);
  const one = path.join(dir, `${name}.one.jsonl`);
  const two = path.join(dir, `${name}.two.jsonl`);
  assert.equal(
    (await convertToRunLog(source, one, { overwrite: true, parallel: { workers: 0 } })).writtenOffThread,
    false,
  );
  assert.equal(
    (await convertToRunLog(source, two, { overwrite: true, ...overlapped })).writtenOffThread,
    offThread,
    name,
  );
  return [readFileSync(one), readFileSync(two)];
}

function assertSameBytes([one, two]: [Buffer, Buffer], what: string): void {
  assert.ok(one.length > 0, what);
  assert.equal(two.length, one.length, `${what}: sizes`);
  assert.ok(two.equals(one), `${what}: the same bytes`);
}

/** A TensorBoard event file of a run's norms, loss (one infinite) and learning rate. */
function writeEventFile(name: string, steps: number): string {
  const file = path.join(dir, name, 'events.out.tfevents.1700000000.test.1.0');
  mkdirSync(path.dirname(file), { recursive: true });
  const events = [];
  for (let step = 0; step < steps; step++) {
    events.push({ step, values: [{ tag: 'train/grad_norm', simple: 1 + (step % 89) / 50 }] });
    events.push({ step, values: [{ tag: 'train/loss', simple: step === 5 ? Infinity : 2 - step / steps }] });
    events.push({ step, values: [{ tag: 'train/learning_rate', simple: 5e-5 }] });
  }
  writeFileSync(file, eventFile(events));
  return file;
}

// More batches than may be in flight: the feeder waits for room.
const events = writeEventFile('several-batches', 90_000);
test('a TensorBoard event file of several batches: the same bytes on one thread and with the writing worker', async () => {
  assertSameBytes(await importBothWays(events, ALWAYS_OVERLAP, true), 'event file');
});

test('a Lightning metrics.csv is written on one thread even when told to overlap, the same bytes', async () => {
  const csv = path.join(dir, 'version_0', 'metrics.csv');
  mkdirSync(path.dirname(csv), { recursive: true });
  writeFileSync(csv, lightningCsv(20_000));
  assertSameBytes(await importBothWays(csv, ALWAYS_OVERLAP, false), 'metrics.csv');
});

test(
  'every real log: the same bytes on one thread and with the writing worker',
  { skip: !realLogsPresent && `${REAL_LOGS} is absent` },
  async () => {
    const sources = readFileSync(path.join(REAL_LOGS, 'SOURCES.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t')[0])
      .filter(Boolean);
    // Each event file alone, and each folder of them as one run.
    const folders = sources.filter((s) => s.includes('tfevents')).map((s) => path.dirname(s));
    sources.push(...new Set(folders));
    let compared = 0;
    for (const local of sources) {
      const source = path.join(REAL_LOGS, local);
      const format = await identifyLog(source).catch(() => undefined);
      const table = format !== undefined && readsStepsAsText(source, format);
      const bytes = await importBothWays(source, ALWAYS_OVERLAP, !table).catch((e: Error) => {
        // A file with nothing to import (no norms, a Git LFS pointer) fails alike both ways: importRealLogs.test.ts
        if (e instanceof NothingToImportError || e instanceof UnreadableLogError) return undefined;
        throw e;
      });
      if (!bytes) continue;
      assertSameBytes(bytes, local);
      compared++;
    }
    assert.ok(compared >= 8, `${compared} real logs compared`);
  },
);

test('steps that the packed columns would not rebuild exactly travel as they are', () => {
  assert.equal(packsExactly({ type: 'step', run_id: 'a', step: 1, total_norm: 2, loss: 3 }), true);
  assert.equal(packsExactly({ type: 'step', run_id: 'a', step: 1, total_norm: NaN, layer_norms: [1, NaN] }), true);
  assert.equal(packsExactly({ run_id: 'a', type: 'step', step: 1, total_norm: 2 }), false, 'another field order');
  assert.equal(
    packsExactly({ type: 'step', run_id: 'a', step: 1, loss: 3, total_norm: 2 }),
    false,
    'another field order',
  );
  assert.equal(
    packsExactly({ type: 'step', run_id: 'a', step: 1, total_norm: 2, extra: 1 } as never),
    false,
    'an unknown field',
  );
  assert.equal(packsExactly({ type: 'step', run_id: 'a', step: '1', total_norm: 2 } as never), false, 'a string step');
  assert.equal(
    packsExactly({ type: 'step', run_id: 'a', step: 1, layer_norms: [1, '2'] } as never),
    false,
    'a string norm',
  );
  assert.equal(packsExactly({ type: 'step', run_id: 'a', total_norm: 2 } as never), false, 'no step');
  assert.equal(packsExactly({ type: 'run_end', run_id: 'a', status: 'completed' }), false);
});

/** Worker scripts that misbehave, each after the start-up the writer waits for (or without it). */
const WORKER_PROGRESS = path.resolve(__dirname, '..', '..', 'src', 'logs', 'writeProgress.ts');
const misbehaving = {
  neverStarts: "throw new Error('broken worker');",
  diesOnFirstBatch:
    "const { parentPort } = require('node:worker_threads'); parentPort.postMessage({ ready: true }); parentPort.on('message', () => process.exit(3));",
  failsOnFirstBatch: `require('tsx/cjs'); const { parentPort, workerData } = require('node:worker_threads');
    const { WriteProgress } = require(${JSON.stringify(WORKER_PROGRESS)});
    parentPort.postMessage({ ready: true });
    parentPort.on('message', () => { new WriteProgress(workerData.shared).fail(); parentPort.postMessage({ failure: 'disk full' }); });`,
  stallsSilently:
    "const { parentPort } = require('node:worker_threads'); parentPort.postMessage({ ready: true }); parentPort.on('message', () => {});",
};

for (const [name, script] of Object.entries(misbehaving)) {
  test(`a writing worker that ${name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}: the main thread writes everything`, async () => {
    const workerScript = path.join(dir, `${name}.js`);
    writeFileSync(workerScript, script);
    assertSameBytes(
      await importBothWays(events, { writer: { minSourceBytes: 0, workerScript, stallMs: 300 } }, false),
      `event file with a worker that ${name}`,
    );
  });
}

test('a small source is imported on one thread unless told otherwise', async () => {
  const small = writeEventFile('small', 100);
  const out = path.join(dir, 'small.jsonl');
  assert.equal((await convertToRunLog(small, out)).writtenOffThread, false);
  let read = 0;
  await readLog(out, (m) => (m.type === 'step' ? read++ : undefined));
  assert.equal(read, 100);
  assert.equal((await convertToRunLog(small, out, { overwrite: true, ...ALWAYS_OVERLAP })).writtenOffThread, true);
});

const BUNDLED_WORKER = path.resolve(__dirname, '..', '..', 'dist', 'runLogWriteWorker.js');
test(
  'the bundled worker (dist/, as the CLI and the extension start it) writes the same bytes',
  { skip: !existsSync(BUNDLED_WORKER) && 'dist/runLogWriteWorker.js is not built (npm run build)' },
  async () => {
    assertSameBytes(
      await importBothWays(events, { writer: { minSourceBytes: 0, workerScript: BUNDLED_WORKER } }, true),
      'event file through dist/runLogWriteWorker.js',
    );
  },
);
