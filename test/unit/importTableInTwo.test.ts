/**
 * A large table of metrics imported in two parts, the second by a worker thread (tableImport.ts),
 * gives the same bytes, problems (on the same lines), notes and counts as importing it on one
 * thread; a worker that fails or never starts leaves its part to the main thread.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { convertToRunLog, ConvertOptions, NothingToImportError } from '../../src/importers/convert';
import { tableSplit } from '../../src/importers/metricsCsv';
import { tempDir } from '../helpers/logFiles';
import { lightningTableArb } from '../helpers/metricTables';

const dir = tempDir('gm-intwo-');
let n = 0;
const ALWAYS: ConvertOptions = { tableInTwo: { minSourceBytes: 0 } };
const BUNDLED_WORKER = path.resolve(__dirname, '..', '..', 'dist', 'tableImportWorker.js');
// The bundled worker starts in a few milliseconds, the source under tsx in a few hundred.
const FAST: ConvertOptions = existsSync(BUNDLED_WORKER)
  ? { tableInTwo: { minSourceBytes: 0, workerScript: BUNDLED_WORKER } }
  : ALWAYS;

function writeTable(text: string): string {
  const folder = path.join(dir, `t${n++}`, 'version_0');
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'metrics.csv');
  writeFileSync(file, text);
  return file;
}

type Outcome = { bytes: Buffer; read: unknown; steps: number; inTwoParts: boolean } | { nothing: string };

async function importAs(source: string, opts: ConvertOptions): Promise<Outcome> {
  const out = path.join(dir, `out-${n++}.jsonl`);
  try {
    const c = await convertToRunLog(source, out, { overwrite: true, ...opts });
    return { bytes: readFileSync(out), read: c.read, steps: c.steps, inTwoParts: c.inTwoParts };
  } catch (e) {
    if (e instanceof NothingToImportError) return { nothing: e.message };
    throw e;
  }
}

/** Imports on one thread and in two parts: they must agree in everything; returns whether it was parted. */
async function assertSameBothWays(source: string, inTwo: ConvertOptions): Promise<boolean> {
  const one = await importAs(source, { parallel: { workers: 0 } });
  const two = await importAs(source, inTwo);
  if ('nothing' in one) {
    assert.deepEqual(two, one, source);
    return false;
  }
  assert.ok(!('nothing' in two), source);
  assert.equal(one.inTwoParts, false);
  assert.ok(two.bytes.equals(one.bytes), `${source}: the same bytes`);
  assert.deepStrictEqual(two.read, one.read, `${source}: what was read`);
  assert.equal(two.steps, one.steps);
  return two.inTwoParts;
}

/** A table big enough to part near its middle, with bad rows in both halves and a NaN. */
function largeTable(steps: number, opts: { cutOff?: boolean } = {}): string {
  const lines = [
    'epoch,grad_2.0_norm/fc1.weight,grad_2.0_norm/fc2.weight,grad_2.0_norm_total,lr-SGD,step,train_loss_step',
  ];
  for (let s = 0; s < steps; s++) {
    lines.push(`,,,,0.05,${s},`);
    const norm = s === 7 ? 'nan' : String(Math.fround(0.1 + (s % 97) / 37));
    lines.push(`0,${norm},${Math.fround(s / 3)},${Math.fround(1 + s / 7)},,${s},${Math.fround(2 - s / steps)}`);
    if (s === 100 || s === steps - 100) lines.push(`0,1,2,oops,,${s},1`);
  }
  return lines.join('\n') + (opts.cutOff ? ',0.5' : '\n');
}

test('a large table: the same bytes, problems on the same lines, notes and counts, in two parts as on one thread', async () => {
  const source = writeTable(largeTable(20_000));
  assert.equal(await assertSameBothWays(source, ALWAYS), true, 'parted');
  const two = await importAs(source, ALWAYS);
  assert.ok(!('nothing' in two));
  const problems = (two.read as { problems: { line: number }[] }).problems;
  assert.equal(problems.length, 2);
  assert.equal(readFileSync(source, 'utf8').split('\n')[problems[1].line - 1].split(',')[3], 'oops');
});

test('a table cut off mid-write is not completed, in two parts as on one thread', async () => {
  const source = writeTable(largeTable(20_000, { cutOff: true }));
  assert.equal(await assertSameBothWays(source, ALWAYS), true, 'parted');
  const two = await importAs(source, ALWAYS);
  assert.ok(!('nothing' in two) && !two.bytes.toString().includes('"run_end"'));
});

test('any table: the same, parted or not', async () => {
  let parted = 0;
  await fc.assert(
    fc.asyncProperty(lightningTableArb, async (table) => {
      if (await assertSameBothWays(writeTable(table), FAST)) parted++;
    }),
    { numRuns: 40 },
  );
  assert.ok(parted > 0, 'some tables were parted');
});

test('the parting is where the step changes, and nowhere in a table with quotes', async () => {
  const text =
    'epoch,grad_norm,step\n' + Array.from({ length: 40 }, (_, i) => `0,1,${Math.floor(i / 4)}`).join('\n') + '\n';
  const source = writeTable(text);
  const split = await tableSplit(source, 'lightning-csv', text.length / 2);
  assert.ok(split);
  const before = text.slice(0, split.start).trimEnd().split('\n').at(-1)!;
  const after = text.slice(split.start).split('\n')[0];
  assert.notEqual(before.split(',')[2], after.split(',')[2]);
  assert.equal(split.header, 'epoch,grad_norm,step');
  const quoted = writeTable(text.replace('0,1,5', '0,"1",5'));
  assert.equal(await tableSplit(quoted, 'lightning-csv', text.length / 2), undefined);
});

/** Worker scripts that fail in their own ways. */
const failing = {
  neverStarts: "throw new Error('broken worker');",
  exits: 'process.exit(3);',
  answersFailure: "require('node:worker_threads').parentPort.postMessage({ failure: 'disk full' });",
};

for (const [name, script] of Object.entries(failing)) {
  test(`a worker that ${name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}: its part is read on the main thread`, async () => {
    const workerScript = path.join(dir, `${name}.js`);
    writeFileSync(workerScript, script);
    const source = writeTable(largeTable(5_000));
    assert.equal(await assertSameBothWays(source, { tableInTwo: { minSourceBytes: 0, workerScript } }), true);
  });
}
