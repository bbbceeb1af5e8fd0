import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { detectFormat, readLog, UnknownLogFormatError } from '../../src/importers/readLog';
import { collect, tempDir } from '../helpers/logFiles';
import { eventFile } from '../helpers/tfeventsWriter';

const dir = tempDir();

test('formats are told from content, whatever the file is called', () => {
  const ours = Buffer.from('{"type":"run_start","run_id":"r"}\n{"type":"step"');
  const hf = Buffer.from('{\n  "best_metric": null,\n  "global_step": 3,\n  "log_history": [\n');
  const tb = eventFile([]);
  const csv = Buffer.from('step,total_norm,a\n0,1,1\n');
  for (const name of ['data.txt', 'x']) {
    assert.equal(detectFormat(name, ours), 'gradient-monitor');
    assert.equal(detectFormat(name, hf), 'hf-trainer-state');
    assert.equal(detectFormat(name, tb), 'tensorboard');
    assert.equal(detectFormat(name, csv), 'csv');
  }
  assert.equal(detectFormat('x', Buffer.from('"Step","Total_Norm"\r\n')), 'csv');
});

test('damaged or empty files fall back to their name, so the reader can say what is wrong', () => {
  const junk = Buffer.from('\x00\x01garbage');
  assert.equal(detectFormat('/a/trainer_state.json', junk), 'hf-trainer-state');
  assert.equal(detectFormat('events.out.tfevents.1700000000.host', junk), 'tensorboard');
  assert.equal(detectFormat('run-abc.jsonl', Buffer.alloc(0)), 'gradient-monitor');
  assert.equal(detectFormat('norms.csv', junk), 'csv');
  assert.equal(detectFormat('notes.txt', Buffer.from('hello')), undefined);
});

test('readLog reads our NDJSON logs with their line problems and torn tail', async () => {
  const file = path.join(dir, 'ours.jsonl');
  writeFileSync(
    file,
    '{"type":"run_start","run_id":"r"}\n{"type":"step","run_id":"r","step":0,"total_norm":"NaN"}\nnot json\n{"type":"step","run_id":"r","step":1,"total_no',
  );
  const { messages, result } = await collect(file);
  assert.equal(result.format, 'gradient-monitor');
  assert.equal(messages.length, 2);
  assert.equal(result.tornTail, true);
  assert.equal(result.problems.length, 1);
  assert.equal(result.problems[0].line, 3);
});

test('a file of no known format is refused with a message naming it', async () => {
  const file = path.join(dir, 'notes.txt');
  writeFileSync(file, 'hello\n');
  await assert.rejects(
    readLog(file, () => undefined),
    (e: Error) =>
      e instanceof UnknownLogFormatError && e.message.startsWith(`${file}: cannot tell what kind of log this is`),
  );
});
