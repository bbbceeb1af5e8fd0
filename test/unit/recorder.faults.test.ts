/** The recorder against a hostile or broken disk: torn lines left by a crash, many runs, files changing under it. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { readRunLog } from '../../src/logs/reader';
import { RunRecorder } from '../../src/logs/writer';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'gm-rec-'));
const step = (n: number): string => JSON.stringify({ type: 'step', run_id: 'r', step: n, total_norm: 1 });

describe('recorder faults', () => {
  test('a partial last line left by a killed endpoint is cut off before appending, so no new line is glued to it', async () => {
    const dir = tmp();
    const rec = new RunRecorder(dir);
    writeFileSync(rec.pathFor('r'), `${step(0)}\n${step(1)}\n{"type":"step","run_id":"r","st`);
    rec.append('r', step(2));
    await rec.close();
    const steps: number[] = [];
    const summary = await readRunLog(rec.pathFor('r'), (m) => m.type === 'step' && steps.push(m.step));
    assert.deepEqual(steps, [0, 1, 2]);
    assert.deepEqual(summary.errors, []);
    assert.equal(summary.tornTail, false);
    assert.ok(readFileSync(rec.pathFor('r'), 'utf8').endsWith(`${step(2)}\n`));
  });

  test('a file holding only a partial line is emptied; a complete file is left as it is', async () => {
    const dir = tmp();
    const rec = new RunRecorder(dir);
    writeFileSync(rec.pathFor('torn'), '{"type":"st');
    writeFileSync(rec.pathFor('whole'), `${step(0)}\n`);
    rec.append('torn', step(1));
    rec.append('whole', step(1));
    await rec.close();
    assert.equal(readFileSync(rec.pathFor('torn'), 'utf8'), `${step(1)}\n`);
    assert.equal(readFileSync(rec.pathFor('whole'), 'utf8'), `${step(0)}\n${step(1)}\n`);
  });

  test('idle logs are closed beyond the open-file cap and reopened for appending', async () => {
    const dir = tmp();
    const rec = new RunRecorder(dir, { maxOpenFiles: 4 });
    for (let round = 0; round < 2; round++) {
      for (let run = 0; run < 20; run++) {
        rec.append(`run-${run}`, step(round));
        await rec.flush();
        assert.ok(rec.openFiles <= 4, `${rec.openFiles} files open`);
      }
    }
    await rec.close();
    for (let run = 0; run < 20; run++)
      assert.equal(readFileSync(rec.pathFor(`run-${run}`), 'utf8'), `${step(0)}\n${step(1)}\n`);
  });
});
