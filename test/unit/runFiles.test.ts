import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildRunsTreeModel, dayLabel, listRunFiles, RunFile } from '../../src/runs/runFiles';
import { tempDir } from '../helpers/logFiles';
import { eventFile } from '../helpers/tfeventsWriter';

const root = tempDir();

function put(rel: string, content: string | Buffer, mtime?: Date): string {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  if (mtime) utimesSync(file, mtime, mtime);
  return file;
}

const ownLog =
  '{"type":"run_start","run_id":"gpt-small","name":"GPT small"}\n' +
  '{"type":"step","run_id":"gpt-small","step":0,"total_norm":1}\n' +
  '{"type":"step","run_id":"gpt-small","step":1,"total_norm":1,"time":1700000000.5}\n';

test("lists our logs and other tools' logs in nested folders, named and dated, newest first", async () => {
  const runs = path.join(root, 'a', 'runs');
  put('a/runs/gpt-small-abc.jsonl', ownLog, new Date(2026, 0, 1));
  put('a/runs/empty-run.jsonl', '', new Date(2026, 0, 3));
  const other = path.join(root, 'a', 'other');
  put(
    'a/other/out/checkpoint-10/trainer_state.json',
    '{\n  "global_step": 10,\n  "log_history": []\n}\n',
    new Date(2026, 0, 5),
  );
  put('a/other/tb/run1/events.out.tfevents.1700000000.host', eventFile([]), new Date(2026, 0, 4));
  put('a/other/norms.csv', 'step,total_norm\n0,1\n', new Date(2026, 0, 2));
  put('a/other/dataset.csv', 'id,label\n1,cat\n');
  put('a/other/notes.txt', 'hello');
  put('a/other/node_modules/pkg/x.jsonl', ownLog);
  put('a/other/1/2/3/4/deep.jsonl', ownLog);

  const files = await listRunFiles([runs, other, path.join(root, 'missing'), runs]);
  const byName = (f: RunFile): [string, string, string] => [path.relative(root, f.path), f.format, f.name];
  assert.deepEqual(files.map(byName), [
    ['a/other/out/checkpoint-10/trainer_state.json', 'hf-trainer-state', 'out/checkpoint-10'],
    ['a/other/tb/run1/events.out.tfevents.1700000000.host', 'tensorboard', 'run1'],
    ['a/runs/empty-run.jsonl', 'gradient-monitor', 'empty-run'],
    ['a/other/norms.csv', 'csv', 'norms'],
    // Dated by its first step's time (2023), not its file time.
    ['a/runs/gpt-small-abc.jsonl', 'gradient-monitor', 'GPT small'],
  ]);
  const gpt = files.at(-1)!;
  assert.equal(gpt.runId, 'gpt-small');
  assert.equal(gpt.firstTime, 1_700_000_000_500);
  assert.equal(gpt.folder, runs);
  assert.equal(gpt.size, Buffer.byteLength(ownLog));
});

test('the tree model: live runs apart (their logs not repeated), the rest grouped by local day, newest first', () => {
  const now = new Date(2026, 10, 25, 9, 30);
  const at = (d: Date): number => d.getTime();
  const file = (name: string, when: Date, firstTime?: Date): RunFile => ({
    path: `/logs/${name}.jsonl`,
    folder: '/logs',
    format: 'gradient-monitor',
    size: 1,
    mtimeMs: at(when),
    name,
    firstTime: firstTime && at(firstTime),
  });
  const files = [
    file('old', new Date(2026, 10, 20, 12)),
    file('this-morning', new Date(2026, 10, 25, 8)),
    file('late-last-night', new Date(2026, 10, 24, 23, 59)),
    file('started-yesterday', new Date(2026, 10, 25, 1), new Date(2026, 10, 24, 22)),
    file('streaming', new Date(2026, 10, 25, 9)),
    file('finished-in-this-window', new Date(2026, 10, 25, 7)),
  ];
  const live = [
    { id: 's', name: 'streaming', state: 'live', steps: 10, lastStep: 9, logPath: '/logs/streaming.jsonl' },
    {
      id: 'f',
      name: 'finished',
      state: 'completed',
      steps: 5,
      lastStep: 4,
      logPath: '/logs/finished-in-this-window.jsonl',
    },
  ];
  const model = buildRunsTreeModel(files, live, now);
  assert.deepEqual(
    model.live.map((r) => r.name),
    ['streaming'],
  );
  assert.deepEqual(
    model.groups.map((g) => [g.label, g.files.map((f) => f.name)]),
    [
      ['Today', ['this-morning', 'finished-in-this-window']],
      ['Yesterday', ['late-last-night', 'started-yesterday']],
      ['2026-11-20', ['old']],
    ],
  );
});

test('day labels follow the local calendar across midnight and month ends', () => {
  const now = new Date(2026, 2, 1, 0, 5);
  assert.equal(dayLabel(new Date(2026, 2, 1, 0, 0), now), 'Today');
  assert.equal(dayLabel(new Date(2026, 1, 28, 23, 59), now), 'Yesterday');
  assert.equal(dayLabel(new Date(2026, 1, 27, 12), now), '2026-02-27');
});
