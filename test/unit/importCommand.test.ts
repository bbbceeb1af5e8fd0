import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main';
import { importIntoFolder } from '../../src/importers/convert';
import { OutputExistsError, writeFileAtomically } from '../../src/logs/atomicWrite';
import { logFileName } from '../../src/logs/paths';
import { readRunLog } from '../../src/logs/reader';
import { ClientMessage } from '../../src/protocol/messages';
import { tempDir } from '../helpers/logFiles';
import { eventFile } from '../helpers/tfeventsWriter';

const dir = tempDir();

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function messagesOf(file: string): Promise<ClientMessage[]> {
  const messages: ClientMessage[] = [];
  const summary = await readRunLog(file, (m) => messages.push(m));
  assert.deepEqual(summary.errors, [], 'the output is a clean run log');
  return messages;
}

function source(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

test('import converts a CSV into a run log that inspect reads', async () => {
  const csv = source('norms.csv', 'step,total_norm,a\n0,1,1\n1,NaN,nan\n2,3,3\n');
  const out = path.join(dir, 'norms.jsonl');
  const r = await cli('import', csv, '-o', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /imported 3 steps of run "norms" \(CSV/);
  const messages = await messagesOf(out);
  assert.deepEqual(
    messages.map((m) => m.type),
    ['run_start', 'step', 'step', 'step', 'run_end'],
  );
  assert.match(readFileSync(out, 'utf8'), /"total_norm":"NaN"/);

  const inspected = await cli('inspect', '--json', out);
  const s = JSON.parse(inspected.out);
  assert.equal(s.steps, 3);
  assert.equal(s.first_nonfinite.step, 1);
  assert.equal(s.status, 'completed');
});

test('an existing output is refused without --force and replaced with it', async () => {
  const csv = source('again.csv', 'step,total_norm\n0,1\n');
  const out = source('taken.jsonl', 'precious\n');
  const refused = await cli('import', csv, '-o', out);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /taken\.jsonl already exists; nothing was written \(pass --force to replace it\)/);
  assert.equal(readFileSync(out, 'utf8'), 'precious\n');

  const forced = await cli('import', csv, '-o', out, '--force', '--run-id', 'mine', '--name', 'My run');
  assert.equal(forced.code, 0, forced.err);
  const messages = await messagesOf(out);
  assert.ok(messages.every((m) => m.run_id === 'mine'));
  assert.equal(messages[0].type === 'run_start' && messages[0].name, 'My run');
});

test('a damaged source: what precedes the fault is written, the fault is named, the exit status is 1', async () => {
  const good = eventFile([0, 1, 2, 3].map((step) => ({ step, values: [{ tag: 'grad_norm', simple: 1 }] })));
  const cut = source('tb/events.out.tfevents.1700000000.host', good.subarray(0, good.length - 3));
  const out = path.join(dir, 'tb.jsonl');
  const r = await cli('import', cut, '-o', out);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${cut.replace(/[.]/g, '\\.')}: record at byte \\d+: truncated record`));
  const messages = await messagesOf(out);
  assert.equal(messages.filter((m) => m.type === 'step').length, 3);
  const end = messages.at(-1);
  assert.ok(end?.type === 'run_end' && end.status === 'interrupted', 'a cut-short event file is an interrupted run');
});

test('a source with nothing to import writes nothing and leaves no temporary file', async () => {
  const sub = path.join(dir, 'nothing');
  const csv = source('nothing/bad.csv', 'epoch,loss\n1,2\n');
  const out = path.join(sub, 'bad.jsonl');
  const r = await cli('import', csv, '-o', out);
  assert.equal(r.code, 1);
  assert.match(r.err, /nothing to import from .*bad\.csv: line 1: expected the header/);
  assert.deepEqual(readdirSync(sub), ['bad.csv']);

  const unknown = source('nothing/notes.txt', 'hello');
  const u = await cli('import', unknown, '-o', out);
  assert.equal(u.code, 1);
  assert.match(u.err, /notes\.txt: cannot tell what kind of log this is/);
  assert.equal(existsSync(out), false);
});

test('usage errors: no file, no -o', async () => {
  assert.equal((await cli('import')).code, 2);
  const noOut = await cli('import', 'x.csv');
  assert.equal(noOut.code, 2);
  assert.match(noOut.err, /import needs -o OUT\.jsonl/);
});

test('writeFileAtomically: a failure leaves the old file and no temporary; an existing file is never clobbered', async () => {
  const sub = path.join(dir, 'atomic');
  mkdirSync(sub);
  const target = path.join(sub, 'out.txt');
  writeFileSync(target, 'old');
  await assert.rejects(
    writeFileAtomically(
      target,
      async (write) => {
        write('half of it');
        throw new Error('disk on fire');
      },
      { overwrite: true },
    ),
    /disk on fire/,
  );
  assert.equal(readFileSync(target, 'utf8'), 'old');
  assert.deepEqual(readdirSync(sub), ['out.txt']);

  await assert.rejects(
    writeFileAtomically(target, async (write) => write('new')),
    OutputExistsError,
  );
  // The target appears while the content is produced: the final move still refuses to replace it.
  const racy = path.join(sub, 'racy.txt');
  await assert.rejects(
    writeFileAtomically(racy, async (write) => {
      write('mine');
      writeFileSync(racy, 'theirs');
    }),
    OutputExistsError,
  );
  assert.equal(readFileSync(racy, 'utf8'), 'theirs');
  assert.deepEqual(readdirSync(sub).sort(), ['out.txt', 'racy.txt']);

  const big = path.join(sub, 'big.txt');
  await writeFileAtomically(big, async (write) => {
    for (let i = 0; i < 200_000; i++) write(`line ${i}\n`); // about 2 MB: several flushes
  });
  const lines = readFileSync(big, 'utf8').split('\n');
  assert.equal(lines.length, 200_001);
  assert.equal(lines[199_999], 'line 199999');
});

test('importIntoFolder names the log after the run, refuses a second import of the same file unless told to replace it', async () => {
  const csv = source('into/run-a.csv', 'step,total_norm\n0,1\n');
  const folder = path.join(dir, 'into', 'runs');
  const first = await importIntoFolder(csv, folder);
  assert.equal(path.dirname(first.out), folder);
  assert.equal(path.basename(first.out), logFileName(first.runId));
  assert.equal(first.steps, 1);
  await assert.rejects(
    importIntoFolder(csv, folder),
    (e: Error) => e instanceof OutputExistsError && e.message === `${first.out} already exists; nothing was written`,
  );
  writeFileSync(csv, 'step,total_norm\n0,1\n1,2\n');
  const again = await importIntoFolder(csv, folder, { overwrite: true });
  assert.equal(again.out, first.out);
  assert.equal(again.steps, 2);
  assert.deepEqual(readdirSync(folder), [path.basename(first.out)]);
});
