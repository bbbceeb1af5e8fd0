import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Alert } from '../../src/alerts/rules';
import { FollowedLogs } from '../../src/ingest/followedLogs';
import { Hub } from '../../src/ingest/hub';
import { RunStore } from '../../src/runs/runStore';

const line = (m: object): string => `${JSON.stringify(m)}\n`;
const start = (id: string): string =>
  line({ type: 'run_start', run_id: id, name: id, meta: { script: '/w/train.py', line: 3 } });
const step = (id: string, n: number, norm: number | string = 1): string =>
  line({ type: 'step', run_id: id, step: n, total_norm: norm });

function setup(): { hub: Hub; folder: string; follower: FollowedLogs; alerts: Alert[]; ids: () => string[] } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'gm-followed-'));
  const folder = path.join(root, 'workspace', '.gradient-monitor', 'runs');
  mkdirSync(folder, { recursive: true });
  const hub = new Hub(new RunStore(), folder);
  const alerts: Alert[] = [];
  hub.on('alert', (a) => alerts.push(a));
  return {
    hub,
    folder,
    follower: new FollowedLogs(hub, () => [folder], 15_000),
    alerts,
    ids: () => hub.store.all().map((r) => r.id),
  };
}

describe('runs followed through their logs', () => {
  test('a log written after following began raises the alerts of a streamed run, and ends with its run_end', async () => {
    const { hub, folder, follower, alerts } = setup();
    await follower.poll(0);
    const file = path.join(folder, 'cluster-job.jsonl');
    writeFileSync(file, start('job') + step('job', 0) + step('job', 1));
    const runEvents: string[] = [];
    hub.on('run', (r) => runEvents.push(r.state));
    await follower.poll(1000);
    const run = hub.store.get('job')!;
    assert.equal(run.state, 'live');
    assert.equal(run.stepCount, 2);
    assert.equal(run.meta.script, '/w/train.py');
    appendFileSync(file, step('job', 2, 'NaN') + step('job', 3, 50));
    await follower.poll(2000);
    assert.deepEqual(
      alerts.map((a) => [a.kind, a.step]),
      [
        ['nonfinite', 2],
        ['threshold', 3],
      ],
    );
    appendFileSync(file, line({ type: 'run_end', run_id: 'job', status: 'completed' }));
    await follower.poll(3000);
    assert.equal(run.state, 'completed');
    assert.deepEqual(runEvents, ['live', 'completed']);
    assert.equal(
      readFileSync(file, 'utf8').trimEnd().split('\n').length,
      6,
      'nothing was written into the followed log',
    );
    assert.ok(!hub.isStreamed('job'));
  });

  test('a log that was there before is history: silent until it grows, then only its new steps alert', async () => {
    const { hub, folder, follower, alerts } = setup();
    const file = path.join(folder, 'old.jsonl');
    writeFileSync(file, start('old') + step('old', 0, 'NaN') + step('old', 1));
    await follower.poll(0);
    assert.equal(hub.store.size, 0, 'a log that does not grow is a recorded run, listed, not followed');
    appendFileSync(file, step('old', 2, 50));
    await follower.poll(1000);
    const run = hub.store.get('old')!;
    assert.equal(run.stepCount, 3);
    assert.deepEqual(
      alerts.map((a) => a.step),
      [],
      'what grew before it was noticed counts as history too',
    );
    appendFileSync(file, step('old', 3, 'NaN'));
    await follower.poll(2000);
    assert.deepEqual(
      alerts.map((a) => [a.kind, a.step]),
      [['nonfinite', 3]],
    );
  });

  test('a log that stops growing ends its run as interrupted; when it grows again the run is live again', async () => {
    const { hub, folder, follower } = setup();
    await follower.poll(0);
    const file = path.join(folder, 'nested', 'paused.jsonl');
    mkdirSync(path.dirname(file));
    writeFileSync(file, start('paused') + step('paused', 0));
    await follower.poll(1000);
    await follower.poll(10_000);
    assert.equal(hub.store.get('paused')!.state, 'live');
    await follower.poll(17_000);
    assert.equal(hub.store.get('paused')!.state, 'interrupted');
    appendFileSync(file, step('paused', 1));
    await follower.poll(18_000);
    assert.equal(hub.store.get('paused')!.state, 'live');
    assert.equal(hub.store.get('paused')!.stepCount, 2);
  });

  test('the logs this endpoint records for streamed runs are not followed again', async () => {
    const { hub, follower, ids } = setup();
    await follower.poll(0);
    const { recorded } = await hub.ingest([
      { type: 'run_start', run_id: 'streamed', name: 'streamed' },
      { type: 'step', run_id: 'streamed', step: 0, total_norm: 1 },
    ]);
    await recorded;
    await follower.poll(1000);
    await hub.ingest([{ type: 'step', run_id: 'streamed', step: 1, total_norm: 1 }]).then((r) => r.recorded);
    await follower.poll(2000);
    assert.deepEqual(ids(), ['streamed']);
    assert.equal(hub.store.get('streamed')!.stepCount, 2, 'each step once');
    assert.ok(hub.isStreamed('streamed'));
    await hub.close();
  });
});
