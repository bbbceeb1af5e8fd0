import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { logFileName, logFilePath } from '../../src/logs/paths';
import { readRunLog } from '../../src/logs/reader';
import { describeReadProblems } from '../../src/logs/problems';
import { summarizeLog } from '../../src/runs/summary';
import { RunRecorder } from '../../src/logs/writer';
import { ClientMessage } from '../../src/protocol/messages';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'gm-logs-test-'));

async function readAll(
  file: string,
): Promise<{ messages: ClientMessage[]; summary: Awaited<ReturnType<typeof readRunLog>> }> {
  const messages: ClientMessage[] = [];
  const summary = await readRunLog(file, (m) => messages.push(m));
  return { messages, summary };
}

describe('log file names', () => {
  test('hostile run ids never leave the folder and never collide', () => {
    const dir = '/logs';
    const ids = [
      '../../etc/passwd',
      '/abs/path',
      'C:\\Windows\\x',
      'CON',
      'nul.txt',
      '..',
      '.',
      '',
      'a/b',
      'a_b',
      'ünïcödé 🚀',
      'x'.repeat(5000),
    ];
    const names = ids.map(logFileName);
    for (const n of names) {
      assert.ok(!n.includes('/') && !n.includes('\\'), n);
      assert.ok(!n.startsWith('.'), n);
      assert.ok(n.length < 120, n);
      assert.ok(!/^(con|nul)(\.|-)/i.test(n), n);
      assert.equal(path.dirname(logFilePath(dir, ids[names.indexOf(n)])), dir);
    }
    assert.equal(new Set(names).size, ids.length, 'a/b and a_b must not share a file');
  });
});

describe('recorder and reader', () => {
  test('round-trips messages, non-finite values included', async () => {
    const dir = tmp();
    const rec = new RunRecorder(dir);
    rec.append('r', JSON.stringify({ type: 'run_start', run_id: 'r' }));
    rec.append('r', '{"type":"step","run_id":"r","step":0,"total_norm":"NaN","layer_norms":["Infinity",1]}');
    await rec.flush();
    await rec.close();
    const { messages, summary } = await readAll(rec.pathFor('r'));
    assert.equal(summary.messages, 2);
    const step = messages[1];
    assert.ok(step.type === 'step' && Number.isNaN(step.total_norm) && step.layer_norms![0] === Infinity);
  });

  test('a torn last line (crash mid-write) is skipped silently; everything before it is read', async () => {
    const file = path.join(tmp(), 'torn.jsonl');
    writeFileSync(
      file,
      '{"type":"step","run_id":"r","step":0,"total_norm":1}\n{"type":"step","run_id":"r","step":1,"total_norm":2}\n{"type":"step","run_id":"r","st',
    );
    const { messages, summary } = await readAll(file);
    assert.equal(messages.length, 2);
    assert.equal(summary.tornTail, true);
    assert.deepEqual(summary.errors, []);
  });

  test('bad lines in the middle are reported by number and reading goes on', async () => {
    const file = path.join(tmp(), 'bad.jsonl');
    writeFileSync(
      file,
      [
        '{"type":"step","run_id":"r","step":0,"total_norm":1}',
        'garbage',
        '{"type":"step","run_id":"r","step":"x","total_norm":1}',
        '',
        '{"type":"step","run_id":"r","step":3,"total_norm":1}',
      ].join('\n') + '\n',
    );
    const { messages, summary } = await readAll(file);
    assert.deepEqual(
      messages.map((m) => (m.type === 'step' ? m.step : -1)),
      [0, 3],
    );
    assert.deepEqual(
      summary.errors.map((e) => e.line),
      [2, 3],
    );
    assert.match(
      describeReadProblems(file, summary.errors, 'bad lines')!,
      /bad\.jsonl: line 2: not valid JSON.*line 3: step\.step must be/,
    );
  });

  test('multi-byte characters split across read chunks survive', async () => {
    const file = path.join(tmp(), 'utf8.jsonl');
    const name = '日本語'.repeat(200_000); // spans several 1 MiB chunks
    writeFileSync(file, JSON.stringify({ type: 'run_start', run_id: 'r', meta: { note: name } }) + '\n');
    const { messages } = await readAll(file);
    const start = messages[0];
    assert.ok(start.type === 'run_start');
    assert.equal(start.meta?.note, name);
  });

  test('an unwritable folder keeps lines in memory, reports once, and writes them when it recovers', async () => {
    // A file where the folder should be fails even for root, who ignores permission bits.
    const base = tmp();
    const blocked = path.join(base, 'runs');
    writeFileSync(blocked, 'a file where the folder should be');
    const errors: (string | undefined)[] = [];
    const rec = new RunRecorder(blocked, { retryMs: 20, onError: (_id, e) => errors.push(e?.message) });
    let flushed = false;
    rec.append('r', '{"type":"step","run_id":"r","step":0,"total_norm":1}');
    const done = rec.flush().then(() => (flushed = true));
    rec.append('r', '{"type":"step","run_id":"r","step":1,"total_norm":1}');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(flushed, false, 'nothing is acknowledged while the disk refuses');
    assert.equal(errors.length, 1, 'reported once, not on every retry');
    assert.equal(rec.unwritten, 2);
    // The folder becomes writable again.
    rmSync(blocked);
    mkdirSync(blocked);
    await done;
    assert.deepEqual(errors, [errors[0], undefined]);
    await rec.close();
    assert.equal(readFileSync(rec.pathFor('r'), 'utf8').trim().split('\n').length, 2);
  });

  test('logs are created readable by the user only', async () => {
    const dir = tmp();
    const rec = new RunRecorder(dir);
    rec.append('r', '{}');
    await rec.close();
    const mode = statSync(rec.pathFor('r')).mode & 0o777;
    assert.equal(mode, 0o600);
  });
});

describe('inspect summary', () => {
  test('counts distinct steps, threshold, first non-finite, spikes, status', async () => {
    const file = path.join(tmp(), 'run.jsonl');
    const lines: unknown[] = [{ type: 'run_start', run_id: 'r', layers: ['a', 'b'], threshold: 5 }];
    for (let step = 0; step < 100; step++) {
      const total = step === 60 ? 50 : step === 80 ? 'NaN' : 1 + (step % 3) * 0.01;
      lines.push({
        type: 'step',
        run_id: 'r',
        step,
        total_norm: total,
        layer_norms: step === 80 ? [1, 'Infinity'] : [1, 1],
      });
    }
    lines.push({ type: 'step', run_id: 'r', step: 10, total_norm: 1 }); // resent duplicate
    lines.push({ type: 'run_end', run_id: 'r', status: 'failed' });
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n{"torn');
    const s = await summarizeLog(file);
    assert.equal(s.steps, 100);
    assert.equal(s.max_total_norm, 50);
    assert.equal(s.threshold, 5);
    assert.deepEqual(s.threshold_exceeded, { count: 1, first_step: 60 });
    assert.deepEqual(s.first_nonfinite, { step: 80, layers: ['b'] });
    assert.deepEqual(s.spikes, [60]);
    assert.equal(s.status, 'failed');
    assert.equal(s.read.torn_tail, true);
  });

  test('an empty file is an empty summary, not a crash', async () => {
    const file = path.join(tmp(), 'empty.jsonl');
    writeFileSync(file, '');
    const s = await summarizeLog(file);
    assert.equal(s.status, 'empty');
    assert.equal(s.steps, 0);
  });
});
