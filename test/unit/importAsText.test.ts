/**
 * Importing a table of metrics writes each number as its cell has it when that is a JSON number
 * (src/logs/jsonNumberText.ts), and parses and prints the rest: the run log must read back as the
 * very messages that reading the table gives, problems and notes alike, whatever the cells hold.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { convertToRunLog, ConvertOptions, NothingToImportError } from '../../src/importers/convert';
import { readLog } from '../../src/importers/readLog';
import { readRunLog } from '../../src/logs/reader';
import { ClientMessage } from '../../src/protocol/messages';
import { tempDir } from '../helpers/logFiles';
import { lightningTableArb } from '../helpers/metricTables';
import { REAL_LOGS, realLogsPresent } from '../helpers/realLogs';

const dir = tempDir('gm-astext-');
let n = 0;

/** The source read as messages, and its import read back: they must be equal. */
async function importAndReadBack(source: string, opts: ConvertOptions = {}) {
  const out = path.join(dir, `out-${n++}.jsonl`);
  const conversion = await convertToRunLog(source, out, { overwrite: true, ...opts });
  const read: ClientMessage[] = [];
  const result = await readLog(source, (m) => read.push(m));
  if (opts.runId) for (const m of read) m.run_id = opts.runId;
  const back: ClientMessage[] = [];
  await readRunLog(out, (m) => back.push(m));
  return { conversion, read, result, back, text: readFileSync(out, 'utf8') };
}

/** A message as JSON keeps it: keys whose value is undefined are left out. */
function asWritten(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asWritten);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, asWritten(v)]),
  );
}

function assertSameRun(x: Awaited<ReturnType<typeof importAndReadBack>>, what: string): void {
  assert.equal(x.conversion.writtenOffThread, false, `${what}: a table is written on one thread`);
  assert.deepStrictEqual(x.back, asWritten(x.read), what);
  assert.deepStrictEqual(x.conversion.read.problems, x.result.problems, `${what}: problems`);
  assert.deepStrictEqual(x.conversion.read.notes, x.result.notes, `${what}: notes`);
}

test('any Lightning table reads back from its import as the messages reading it gives', async () => {
  await fc.assert(
    fc.asyncProperty(lightningTableArb, async (table) => {
      const folder = path.join(dir, `table-${n++}`, 'version_0');
      mkdirSync(folder, { recursive: true });
      const source = path.join(folder, 'metrics.csv');
      writeFileSync(source, table);
      let imported;
      try {
        imported = await importAndReadBack(source);
      } catch (e) {
        assert.ok(e instanceof NothingToImportError, String(e)); // no row had a norm: nothing is written
        return;
      }
      assertSameRun(imported, source);
    }),
    { numRuns: 150 },
  );
});

test('cells that are JSON numbers are written as they are; others are parsed and printed', async () => {
  const folder = path.join(dir, 'verbatim', 'version_0');
  mkdirSync(folder, { recursive: true });
  const source = path.join(folder, 'metrics.csv');
  writeFileSync(
    source,
    'epoch,grad_2.0_norm/a,grad_2.0_norm_total,lr-SGD,step,train_loss_step\n' +
      ',,,1e-05,0,\n0,0.130000,1.0,,0,7.628580570220947\n' +
      '0,.5,nan,,1,5.\n' +
      '0,1E+3,2e400,,2,007\n',
  );
  const imported = await importAndReadBack(source, { runId: 'renamed' });
  assertSameRun(imported, 'verbatim');
  const steps = imported.text.split('\n').filter((l) => l.startsWith('{"type":"step"'));
  assert.deepEqual(steps, [
    '{"type":"step","run_id":"renamed","step":0,"total_norm":1.0,"layer_norms":[0.130000],"loss":7.628580570220947,"lr":1e-05}',
    '{"type":"step","run_id":"renamed","step":1,"total_norm":"NaN","layer_norms":[0.5],"loss":5}',
    '{"type":"step","run_id":"renamed","step":2,"total_norm":"Infinity","layer_norms":[1E+3],"loss":7}',
  ]);
});

test('W&B chart and history exports and other tables of metrics are written the same way', async () => {
  const tables = {
    'chart.csv':
      '"Step","glad-sun-3 - train/grad_norm","glad-sun-3 - train/grad_norm__MIN","glad-sun-3 - train/grad_norm__MAX"\n' +
      '10,0.5,0.25,1e-05\n20,NaN,,\n30,1.0000000000000002,1,2\n',
    'history.csv':
      '_step,_runtime,_timestamp,train/grad_norm,train/loss\n0,1.5,1700000000.123456,0.5,2\n1,2.5,1700000001.5,1e-05,\n',
    'table.csv':
      'global_step,grad_norm/enc.0,grad_norm/enc.1,loss\n0,0.1,0.2,3\n1,0.30000000000000004,.5,inf\n2,,1,2\n',
  };
  for (const [name, text] of Object.entries(tables)) {
    const source = path.join(dir, name);
    writeFileSync(source, text);
    const imported = await importAndReadBack(source);
    assert.ok(
      ['wandb-chart-csv', 'wandb-history', 'metrics-csv'].includes(imported.result.format),
      imported.result.format,
    );
    assertSameRun(imported, name);
    assert.ok(imported.back.filter((m) => m.type === 'step').length >= 2, name);
  }
});

const REAL_TABLE = path.join(REAL_LOGS, 'slm_training', 'metrics.csv');
test(
  "a real Lightning metrics.csv's cells, as norms, read back from its import as reading them gives",
  { skip: !realLogsPresent && `${REAL_LOGS} is absent` },
  async () => {
    // It logs no norms (nothing to import as it is): its step loss, as Lightning printed it, becomes the total.
    const [header, ...rows] = readFileSync(REAL_TABLE, 'utf8').split('\n');
    assert.ok(header.includes('train_loss_step'), header);
    const folder = path.join(dir, 'real', 'version_0');
    mkdirSync(folder, { recursive: true });
    const source = path.join(folder, 'metrics.csv');
    writeFileSync(source, [header.replace('train_loss_step', 'grad_2.0_norm_total'), ...rows].join('\n'));
    const imported = await importAndReadBack(source);
    assertSameRun(imported, REAL_TABLE);
    assert.ok(imported.conversion.steps > 1000, `${imported.conversion.steps} steps`);
    assert.match(imported.text, /"total_norm":7\.628580570220947[,}]/, 'the cell as Lightning wrote it');
  },
);
