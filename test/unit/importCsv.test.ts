import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { csvLine, parseCsvLine, parseCsvNumber } from '../../src/logs/csv';
import { collect, tempDir } from '../helpers/logFiles';

const dir = tempDir();
let n = 0;
function writeCsv(text: string, name = `log-${n++}.csv`): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

test('header names the layers; numbers, numpy/pandas NaN spellings and empty cells are read', async () => {
  const file = writeCsv(
    'step,total_norm,embed,"block,0"\n0,1.5,0.5,1\n1,nan,,inf\n2,-Infinity,NaN,1e-3\n',
    'my run.csv',
  );
  const { messages, steps, result } = await collect(file);
  assert.equal(result.format, 'csv');
  assert.deepEqual(result.problems, []);
  assert.equal(messages[0].type === 'run_start' && messages[0].name, 'my run');
  assert.deepEqual(messages[0].type === 'run_start' && messages[0].layers, ['embed', 'block,0']);
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm, s.layer_norms]),
    [
      [0, 1.5, [0.5, 1]],
      [1, NaN, [NaN, Infinity]],
      [2, -Infinity, [NaN, 0.001]],
    ],
  );
  assert.deepEqual(messages.at(-1), { type: 'run_end', run_id: messages[0].run_id, status: 'completed' });
});

test('bad rows are named by line and skipped; CRLF endings and blank lines are fine', async () => {
  const file = writeCsv('step,total_norm\r\n0,1\r\n\r\n1,high\r\n2,1,2\r\n-3,1\r\n4,2\r\n');
  const { steps, result } = await collect(file);
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm]),
    [
      [0, 1],
      [4, 2],
    ],
  );
  assert.deepEqual(result.problems, [
    { line: 4, message: 'total_norm must be a number, got "high"' },
    { line: 5, message: '3 cells where the header has 2' },
    { line: 6, message: 'step must be an integer >= 0, got "-3"' },
  ]);
});

test('a last row cut short is a torn tail, not an error', async () => {
  const { steps, result } = await collect(writeCsv('step,total_norm,a\n0,1,1\n1,2'));
  assert.deepEqual(
    steps.map((s) => s.step),
    [0],
  );
  assert.equal(result.tornTail, true);
  assert.deepEqual(result.problems, []);
});

test('a wrong header stops reading at line 1 and yields nothing', async () => {
  const { messages, result } = await collect(writeCsv('epoch,loss\n0,1\n'));
  assert.deepEqual(messages, []);
  assert.deepEqual(result.problems, [
    {
      line: 1,
      message:
        'expected the header "step,total_norm[,layer...]", got "epoch,loss" (a table of logged metrics needs a step column)',
      fatal: true,
    },
  ]);
  const empty = writeCsv('');
  await assert.rejects(collect(empty), { message: `${empty}: the file is empty` });
});

test('csvLine and parseCsvLine round-trip any cells', () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: fc.constantFrom('a', ',', '"', ' ', 'é', 'x') }), { minLength: 1, maxLength: 6 }),
      (cells) => {
        assert.deepEqual(parseCsvLine(csvLine(cells)), cells);
      },
    ),
  );
  assert.equal(parseCsvLine('"open,1'), undefined);
  assert.equal(parseCsvLine('"a"b,1'), undefined);
});

test('numbers: decimal, exponent, non-finite spellings; anything else is not a number', () => {
  for (const [cell, value] of [
    ['1', 1],
    [' 2.5 ', 2.5],
    ['.5', 0.5],
    ['1e-3', 0.001],
    ['-INF', -Infinity],
    ['Infinity', Infinity],
    ['+inf', Infinity],
    ['', NaN],
    ['NaN', NaN],
  ] as const) {
    assert.equal(
      Object.is(parseCsvNumber(cell), value) || (Number.isNaN(value) && Number.isNaN(parseCsvNumber(cell)!)),
      true,
      cell,
    );
  }
  for (const cell of ['0x10', 'abc', '1,2', '1e', '--1']) assert.equal(parseCsvNumber(cell), undefined, cell);
});
