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

const LFS_POINTER =
  'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 4419\n';

test('a Git LFS pointer gets one message whatever its name; import and inspect both exit 1', async () => {
  for (const name of ['lfs/events.out.tfevents.1.host', 'lfs/trainer_state.json', 'lfs/metrics.csv', 'lfs/run.jsonl']) {
    const pointer = source(name, LFS_POINTER);
    for (const args of [
      ['import', pointer, '-o', path.join(dir, 'lfs.jsonl')],
      ['inspect', pointer],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args[0]} ${name}`);
      assert.equal(
        r.err,
        `gradient-monitor: ${pointer}: this is a Git LFS pointer, not the log itself (the real file has 4419 bytes); run \`git lfs pull\` in its repository to download it`,
      );
    }
  }
  assert.equal(existsSync(path.join(dir, 'lfs.jsonl')), false);
});

test('an empty file says so; inspect exits 1 on whatever holds no step, as import does', async () => {
  for (const name of ['empty/trainer_state.json', 'empty/events.out.tfevents.1.host', 'empty/norms.csv']) {
    const empty = source(name, '');
    const r = await cli('inspect', empty);
    assert.equal(r.code, 1);
    assert.equal(r.err, `gradient-monitor: ${empty}: the file is empty`);
  }
  const noNorm = source('empty/other.csv', 'epoch,loss\n0,1\n');
  const r = await cli('inspect', noNorm);
  assert.equal(r.code, 1);
  assert.match(r.out, /line 1: expected the header/);
  assert.match(r.err, /nothing to inspect: no step with a gradient norm was read/);
  const json = await cli('inspect', '--json', noNorm);
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.out).steps, 0);
});

test('a CSV cut off mid-write is not a completed run', async () => {
  const cut = source('cut/norms.csv', 'step,total_norm\n0,1\n1,2\n2,3.1');
  const s = JSON.parse((await cli('inspect', '--json', cut)).out);
  assert.equal(s.steps, 2, 'the unterminated last row is left out');
  assert.notEqual(s.status, 'completed');
  assert.equal(s.read.torn_tail, true);
  const lightning = source('cut/version_0/metrics.csv', 'epoch,grad_2.0_norm_total,step\n0,1.5,0\n0,2.5,1\n0,3');
  const l = JSON.parse((await cli('inspect', '--json', lightning)).out);
  assert.equal(l.steps, 2);
  assert.notEqual(l.status, 'completed');
  assert.match(l.read.notes.join('\n'), /cut off while being written/);
});

test('a missing output folder, an output that is a folder, an input folder without events: clear messages', async () => {
  const csv = source('paths/norms.csv', 'step,total_norm\n0,1\n');
  const missing = path.join(dir, 'paths', 'no-such-folder', 'out.jsonl');
  const m = await cli('import', csv, '-o', missing);
  assert.equal(m.code, 1);
  assert.equal(m.err, `gradient-monitor: cannot write ${missing}: the folder ${path.dirname(missing)} does not exist`);
  const folderOut = path.join(dir, 'paths');
  const f = await cli('import', csv, '-o', folderOut);
  assert.equal(f.code, 1);
  assert.match(f.err, /cannot write .*paths: it is a folder; give a file name such as .*paths\/run\.jsonl/);
  const i = await cli('inspect', path.join(dir, 'paths'));
  assert.equal(i.code, 1);
  assert.match(
    i.err,
    /paths: this is a folder, and neither it nor the three folders below it hold TensorBoard event files/,
  );
  const gone = await cli('inspect', path.join(dir, 'paths', 'gone.csv'));
  assert.equal(gone.err, `gradient-monitor: ${path.join(dir, 'paths', 'gone.csv')}: no such file or folder`);
});

test('inspect quotes layer names, so a name with a comma reads as one', async () => {
  const csv = source('quoted/norms.csv', 'step,total_norm,"enc,0",dec\n0,1,1,1\n1,NaN,NaN,NaN\n');
  const r = await cli('inspect', csv);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /first non-finite norm at step 1 in "enc,0", "dec"/);
});

test('a folder of TensorBoard event files imports as one run', async () => {
  const events = (steps: number[], offset: number): Buffer =>
    eventFile(steps.map((step) => ({ step, values: [{ tag: 'train/grad_norm', simple: step + offset }] })));
  source('tbrun/runs/Jan01_00-00-00_host/events.out.tfevents.1700000000.host.1.0', events([0, 1, 2], 0));
  source('tbrun/runs/Jan01_01-00-00_host/events.out.tfevents.1700003600.host.2.0', events([2, 3], 10));
  const out = path.join(dir, 'tbrun.jsonl');
  const r = await cli('import', path.join(dir, 'tbrun'), '-o', out);
  assert.equal(r.code, 0, r.err);
  const steps = (await messagesOf(out)).filter((m) => m.type === 'step');
  assert.deepEqual(
    steps.map((s) => s.type === 'step' && [s.step, s.total_norm]),
    [
      [0, 0],
      [1, 1],
      [2, 12],
      [3, 13],
    ],
  );
});

test('an old trainer_state.json (no grad_norm) imports as a loss-only run that inspect calls so', async () => {
  const entries = [10, 20, 30].map((step) => `{"learning_rate": 1e-4, "loss": ${3 - step / 10}, "step": ${step}}`);
  const state = source(
    'old/trainer_state.json',
    `{"global_step": 30, "max_steps": 30, "log_history": [${entries.join(', ')}]}\n`,
  );
  const out = path.join(dir, 'old.jsonl');
  const imported = await cli('import', state, '-o', out);
  assert.equal(imported.code, 0, imported.err);
  assert.match(
    imported.out,
    /^imported 3 steps .*\nnote: loss only: this trainer_state\.json predates grad_norm logging \(Transformers >= 4\.38\.0/,
  );
  const steps = (await messagesOf(out)).filter((m) => m.type === 'step');
  assert.deepEqual(
    steps.map((m) => [m.step, 'total_norm' in m, m.loss]),
    [
      [10, false, 2],
      [20, false, 1],
      [30, false, 0],
    ],
  );
  for (const file of [state, out]) {
    const r = await cli('inspect', file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /: completed, 3 steps/);
    assert.match(r.out, /\nloss only: no step logged a gradient norm, so there are no norm statistics or alerts(\n|$)/);
    assert.doesNotMatch(r.out, /max total norm|non-finite|median/);
  }
  assert.match(
    (await cli('inspect', state)).out,
    /note: loss only: this trainer_state\.json predates grad_norm logging/,
  );
  const json = JSON.parse((await cli('inspect', '--json', out)).out);
  assert.deepEqual([json.steps, json.norm_steps, json.max_total_norm], [3, 0, null]);
});

test('writeFileAtomically writes every text in order: many small ones, non-ASCII, one larger than a chunk', async () => {
  const file = path.join(dir, 'atomic-order.txt');
  const texts = [
    ...Array.from({ length: 50_000 }, (_, i) => `{"step":${i},"name":"enc,0 ✓ 🧪"}\n`),
    'x'.repeat(3 << 20),
    'é\n',
  ];
  await writeFileAtomically(file, async (write) => {
    for (const t of texts) write(t);
  });
  assert.equal(readFileSync(file, 'utf8'), texts.join(''));
});
