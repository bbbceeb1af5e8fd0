import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { LogFollower } from '../../src/logs/follow';
import { readRunLog } from '../../src/logs/reader';
import { ClientMessage } from '../../src/protocol/messages';
import { RunStore } from '../../src/runs/runStore';

const step = (n: number): string => JSON.stringify({ type: 'step', run_id: 'r', step: n, total_norm: 1 + n });

async function followerAfterRead(file: string): Promise<LogFollower> {
  const s = await readRunLog(file, () => undefined);
  return LogFollower.afterCompleteLines(file, s.bytes, s.lines);
}

describe('following a growing log', () => {
  test('appended lines arrive once each; a half-written line waits until it is whole', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-follow-')), 'run.jsonl');
    const torn = step(2);
    writeFileSync(file, `${step(0)}\n${step(1)}\n${torn.slice(0, 10)}`);
    const follower = await followerAfterRead(file);
    const seen: [number, number][] = [];
    const collect = (m: ClientMessage, line: number): void => void seen.push([m.type === 'step' ? m.step : -1, line]);

    assert.equal((await follower.poll(collect)).messages, 0, 'nothing complete was added');
    appendFileSync(file, torn.slice(10, 20));
    assert.equal((await follower.poll(collect)).messages, 0, 'still half a line');
    appendFileSync(file, `${torn.slice(20)}\n${step(3)}\n{"type":`);
    assert.equal((await follower.poll(collect)).messages, 2);
    appendFileSync(file, `"bad"}\n${step(4)}\n`);
    const r = await follower.poll(collect);
    assert.equal(r.messages, 1);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [5],
      'a bad appended line is reported by its line number',
    );
    assert.deepEqual(seen, [
      [2, 3],
      [3, 4],
      [4, 6],
    ]);
    assert.equal(follower.position, statSync(file).size);
  });

  test('a truncated or replaced file stops following', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-follow-')), 'run.jsonl');
    writeFileSync(file, `${step(0)}\n${step(1)}\n`);
    const follower = await followerAfterRead(file);
    truncateSync(file, 5);
    assert.equal((await follower.poll(() => undefined)).replaced, true);
    appendFileSync(file, `\n${step(7)}\n`.repeat(10));
    assert.equal((await follower.poll(() => undefined)).messages, 0);
  });

  test('followed messages update the run as loading did, and only its own', () => {
    const run = new RunStore().getOrCreate('r');
    run.applyOwn({ type: 'step', run_id: 'r', step: 0, total_norm: 1 });
    run.applyOwn({ type: 'step', run_id: 'other', step: 1, total_norm: 1 });
    run.applyOwn({ type: 'run_end', run_id: 'r', status: 'completed' });
    assert.equal(run.stepCount, 1);
    assert.equal(run.state, 'completed');
  });
});
