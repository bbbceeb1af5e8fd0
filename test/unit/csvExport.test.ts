import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { OutputExistsError } from '../../src/logs/atomicWrite';
import { exportLogToCsv } from '../../src/importers/csvExport';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage } from '../../src/protocol/messages';
import { collect, tempDir } from '../helpers/logFiles';

const dir = tempDir();

function writeLog(name: string, messages: ClientMessage[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join(''));
  return file;
}

test('a run exports to CSV at full resolution, non-finite values included, and imports back unchanged', async () => {
  const log = writeLog('run.jsonl', [
    { type: 'run_start', run_id: 'r', layers: ['embed', 'block,0'] },
    { type: 'step', run_id: 'r', step: 0, total_norm: 1.5, layer_norms: [1, 0.5] },
    { type: 'step', run_id: 'r', step: 1, total_norm: NaN, layer_norms: [Infinity, NaN] },
    { type: 'step', run_id: 'r', step: 1, total_norm: 7, rank: 1 }, // another rank: left out
    { type: 'step', run_id: 'other', step: 5, total_norm: 9 }, // another run: left out
    { type: 'step', run_id: 'r', step: 2, total_norm: 0.25 }, // no layer values: empty cells
    { type: 'run_end', run_id: 'r', status: 'completed' },
  ]);
  const out = path.join(dir, 'run.csv');
  const result = await exportLogToCsv(log, out);
  assert.equal(result.rows, 3);
  assert.equal(
    readFileSync(out, 'utf8'),
    'step,total_norm,embed,"block,0"\n0,1.5,1,0.5\n1,NaN,Infinity,NaN\n2,0.25,,\n',
  );

  const back = await collect(out);
  assert.deepEqual(back.result.problems, []);
  assert.deepEqual(back.messages[0].type === 'run_start' && back.messages[0].layers, ['embed', 'block,0']);
  assert.deepEqual(
    back.steps.map((s) => [s.step, s.total_norm, s.layer_norms]),
    [
      [0, 1.5, [1, 0.5]],
      [1, NaN, [Infinity, NaN]],
      [2, 0.25, [NaN, NaN]],
    ],
  );
});

test('layers without names are numbered; an existing file is only replaced when asked', async () => {
  const log = writeLog('unnamed.jsonl', [{ type: 'step', run_id: 'u', step: 3, total_norm: 2, layer_norms: [1, 1] }]);
  const out = path.join(dir, 'unnamed.csv');
  writeFileSync(out, 'keep me');
  await assert.rejects(exportLogToCsv(log, out), OutputExistsError);
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
  await exportLogToCsv(log, out, { overwrite: true });
  assert.equal(readFileSync(out, 'utf8'), 'step,total_norm,layer_0,layer_1\n3,2,1,1\n');
});

test('an export of a step range (the steps a chart shows) keeps only those steps, at full resolution', async () => {
  const log = writeLog('range.jsonl', [
    { type: 'run_start', run_id: 'r', layers: ['a'] },
    ...[0, 1, 2, 3, 4, 5].map((step): ClientMessage => ({
      type: 'step',
      run_id: 'r',
      step,
      total_norm: step === 3 ? NaN : step,
      layer_norms: [step],
    })),
  ]);
  const out = path.join(dir, 'range.csv');
  const result = await exportLogToCsv(log, out, { steps: { from: 1.5, to: 4 } });
  assert.equal(result.rows, 3);
  assert.equal(readFileSync(out, 'utf8'), 'step,total_norm,a\n2,2,2\n3,NaN,3\n4,4,4\n');
});
