/**
 * W&B exports, written here in the layouts W&B and pandas produce (wandb itself cannot be installed
 * in the test venv): a chart's CSV download (`"Step","<run> - <key>","<run> - <key>__MIN",
 * "<run> - <key>__MAX"`), a history saved with pandas' `to_csv` (an unnamed index column first)
 * and `to_json(orient="records", lines=True)`, and a `.wandb` offline file's header.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { detectFormat } from '../../src/importers/readLog';
import { RunStartMessage } from '../../src/protocol/messages';
import { collect, tempDir } from '../helpers/logFiles';

const dir = tempDir();

function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

test('a W&B chart CSV: the first run with a norm is read by its Step column, empty cells skipped, the other runs named', async () => {
  const header = [
    'Step',
    'glad-sun-3 - train/grad_norm',
    'glad-sun-3 - train/grad_norm__MIN',
    'glad-sun-3 - train/grad_norm__MAX',
  ];
  const other = [
    'dry-wind-4 - train/grad_norm',
    'dry-wind-4 - train/grad_norm__MIN',
    'dry-wind-4 - train/grad_norm__MAX',
  ];
  const rows = [
    [0, 1.5, 1.5, 1.5, 2, 2, 2],
    [10, 2.5, 2, 3, '', '', ''],
    [20, '', '', '', 4, 4, 4],
    [30, 'NaN', 'NaN', 'NaN', 1, 1, 1],
  ];
  const file = write(
    'chart.csv',
    [[...header, ...other], ...rows].map((r) => r.map((c) => `"${c}"`).join(',')).join('\n') + '\n',
  );
  const { messages, steps, result } = await collect(file);
  assert.equal(result.format, 'wandb-chart-csv');
  assert.deepEqual(result.problems, []);
  assert.equal((messages[0] as RunStartMessage).name, 'glad-sun-3');
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm]),
    [
      [0, 1.5],
      [10, 2.5],
      [30, NaN],
    ],
  );
  assert.match(result.notes.join('\n'), /also holds "dry-wind-4"; run "glad-sun-3" was read/);
  assert.match(result.notes.join('\n'), /sampled points/);
  assert.equal(messages.at(-1)?.type, 'run_end');
});

test('a W&B history CSV (pandas to_csv): train/global_step is the step, loss and learning rate come along, eval rows left out', async () => {
  const file = write(
    'history.csv',
    [
      ',_step,_runtime,_timestamp,train/global_step,train/grad_norm,train/loss,train/learning_rate,eval/loss',
      '0,0,5.1,1700000005.1,10,1.25,2.5,5e-05,',
      '1,1,9.8,1700000009.8,20,nan,2.25,4e-05,',
      '2,2,10.2,1700000010.2,20,,,,2.0',
      '3,3,14.0,1700000014.0,30,0.75,2.0,3e-05,',
    ].join('\n') + '\n',
  );
  const { steps, result } = await collect(file);
  assert.equal(result.format, 'wandb-history');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm, s.loss, s.lr, s.time]),
    [
      [10, 1.25, 2.5, 5e-5, 1700000005.1],
      [20, NaN, 2.25, 4e-5, 1700000010.2],
      [30, 0.75, 2.0, 3e-5, 1700000014.0],
    ],
  );
});

test('a W&B history as JSON lines: Lightning keys, null for a key not logged, NaN as "NaN", a cut-off last line not completed', async () => {
  const rows = [
    {
      _step: 0,
      'trainer/global_step': 0,
      'grad_2.0_norm_total': 1.0,
      'grad_2.0_norm/fc.weight': 0.5,
      train_loss_step: 3,
    },
    { _step: 1, 'trainer/global_step': 0, val_loss: 2.5, 'grad_2.0_norm_total': null },
    {
      _step: 2,
      'trainer/global_step': 1,
      'grad_2.0_norm_total': 'NaN',
      'grad_2.0_norm/fc.weight': 'Infinity',
      train_loss_step: 2,
    },
  ];
  const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const complete = await collect(write('history.jsonl', text));
  assert.equal(complete.result.format, 'wandb-history');
  assert.deepEqual(complete.result.problems, []);
  assert.deepEqual((complete.messages[0] as RunStartMessage).layers, ['fc.weight']);
  assert.deepEqual(
    complete.steps.map((s) => [s.step, s.total_norm, s.layer_norms, s.loss]),
    [
      [0, 1, [0.5], 3],
      [1, NaN, [Infinity], 2],
    ],
  );
  assert.equal(complete.messages.at(-1)?.type, 'run_end');

  const cut = await collect(write('cut/history.jsonl', text + '{"_step": 3, "trainer/global_step": 2, "grad_2.0_no'));
  assert.equal(cut.steps.length, 2);
  assert.equal(cut.result.tornTail, true);
  assert.notEqual(cut.messages.at(-1)?.type, 'run_end', 'a file cut off mid-write is not a completed run');
  assert.match(cut.result.notes.join('\n'), /cut off while being written/);
});

test('a .wandb offline file is recognised and refused with how to export it', async () => {
  const header = Buffer.alloc(7);
  header.write(':W&B', 0, 'latin1');
  header.writeUInt16LE(0xbee1, 4);
  header.writeUInt8(0, 6);
  const file = write('run-20240101_000000-abc123.wandb', Buffer.concat([header, Buffer.alloc(64, 1)]));
  await assert.rejects(collect(file), (e: Error) => {
    assert.match(e.message, /W&B offline run file \(\.wandb\).*not read here.*scan_history\(\)/);
    return true;
  });
});

test('detection: each export by its content, whatever its name', () => {
  const of = (text: string): string | undefined => detectFormat('export', Buffer.from(text));
  assert.equal(of('"Step","a - loss","a - loss__MIN","a - loss__MAX"\n'), 'wandb-chart-csv');
  assert.equal(of(',_step,_runtime,train/grad_norm\n'), 'wandb-history');
  assert.equal(of('{"_step": 0, "grad_norm": 1}\n'), 'wandb-history');
  assert.equal(of('epoch,grad_2.0_norm_total,step,train_loss_step\n'), 'lightning-csv');
  assert.equal(of('step,grad_norm,loss\n'), 'metrics-csv');
  assert.equal(of('x,y\n1,2\n'), undefined);
  assert.equal(of('step,loss,accuracy\n'), undefined, "a table without norms is someone's data");
});
