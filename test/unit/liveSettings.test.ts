/**
 * Settings changed while runs stream: the alert rules of every run judge the next steps by the new
 * values (a run's own threshold still wins), open dashboards get the moved threshold line, and the
 * endpoint's limits apply to the next frame, all without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { AlertSettings, DEFAULT_ALERT_SETTINGS, RunAlerts } from '../../src/alerts/rules';
import { AlertKind } from '../../src/shared/kinds';
import { hubRunSource } from '../../src/dashboard/runSource';
import { DashboardSession } from '../../src/dashboard/session';
import { Hub } from '../../src/ingest/hub';
import { RunStore } from '../../src/runs/runStore';
import { HostMessage } from '../../src/shared/webviewProtocol';
import { FakeScheduler } from '../helpers/fakeScheduler';
import { connect, startEndpoint } from '../helpers/endpoint';

const settings = (over: Partial<AlertSettings>): AlertSettings => ({ ...DEFAULT_ALERT_SETTINGS, ...over });

function feed(rules: RunAlerts, values: number[], from = 0): { step: number; kind: AlertKind }[] {
  return values.flatMap((total, i) =>
    rules.observe({ step: from + i, total }).map((a) => ({ step: a.step, kind: a.kind })),
  );
}

describe('alert rules take new settings mid-run', () => {
  test('a lowered threshold fires on the next step above it, with the new value in the message', () => {
    const rules = new RunAlerts('r', settings({ threshold: 10 }));
    assert.deepEqual(feed(rules, [3, 4, 3]), []);
    rules.reconfigure(settings({ threshold: 2 }));
    assert.equal(rules.activeThreshold, 2);
    const [a] = rules.observe({ step: 3, total: 3 });
    assert.equal(a.kind, 'threshold');
    assert.match(a.message, /exceeds the threshold 2 at step 3/);
  });

  test("a run's own threshold keeps winning over the setting", () => {
    const rules = new RunAlerts('r', settings({ threshold: 10 }));
    rules.configure(50, undefined);
    rules.reconfigure(settings({ threshold: 2 }));
    assert.equal(rules.activeThreshold, 50);
    assert.deepEqual(feed(rules, [20]), []);
  });

  test('a vanishing limit lowered below a run already in progress fires once at the next vanishing step', () => {
    const rules = new RunAlerts('r', settings({ vanishingSteps: 50 }));
    assert.deepEqual(feed(rules, Array(10).fill(0)), []);
    rules.reconfigure(settings({ vanishingSteps: 5 }));
    const alerts = feed(rules, [0, 0, 0], 10);
    assert.deepEqual(alerts, [{ step: 10, kind: 'vanishing' }]);
  });

  test('a resized spike window keeps the most recent values as its baseline', () => {
    const rules = new RunAlerts('r', settings({ spikeWindow: 100, threshold: 1000 }));
    // 80 steps near 100, then 30 near 1: a window of 30 sees only the recent level.
    feed(rules, [...Array(80).fill(100), ...Array(30).fill(1)]);
    rules.reconfigure(settings({ spikeWindow: 30, threshold: 1000 }));
    assert.deepEqual(feed(rules, [50], 110), [{ step: 110, kind: 'spike' }]);
    const wide = new RunAlerts('w', settings({ spikeWindow: 100, threshold: 1000 }));
    feed(wide, [...Array(80).fill(100), ...Array(30).fill(1)]);
    assert.deepEqual(feed(wide, [50], 110), [], 'against the wide window 50 is no spike');
  });
});

describe('the hub pushes new settings to runs and dashboards', () => {
  test('every run gets the new threshold and an open dashboard is sent the moved threshold line', () => {
    const hub = new Hub(
      new RunStore({ alerts: settings({ threshold: 10 }) }),
      mkdtempSync(path.join(os.tmpdir(), 'gm-')),
    );
    const run = hub.store.getOrCreate('a');
    run.start({ type: 'run_start', run_id: 'a', name: 'a' });
    for (let step = 0; step < 5; step++) run.step({ type: 'step', run_id: 'a', step, total_norm: 3 });
    const clock = new FakeScheduler();
    const posted: HostMessage[] = [];
    const session = new DashboardSession(hubRunSource(hub), (m) => posted.push(m), { scheduler: clock });
    session.handle({ type: 'ready' });
    assert.equal(posted.at(-1)?.type, 'snapshot');
    posted.length = 0;

    hub.reconfigure(settings({ threshold: 2 }), 256);
    clock.advance(1000);
    const headers = posted.flatMap((m) =>
      m.type === 'update' ? (m.append ? [m.append.run] : []) : m.type === 'snapshot' ? [m.run] : [],
    );
    assert.equal(headers.at(-1)?.threshold, 2);
    const alerts = run.step({ type: 'step', run_id: 'a', step: 5, total_norm: 3 });
    assert.deepEqual(
      alerts?.map((a) => a.kind),
      ['threshold'],
    );
    const later = hub.store.getOrCreate('b');
    assert.equal(later.threshold, 2, 'runs that start later get it too');
    session.dispose();
  });

  test('a lowered layer limit refuses the next run_start that exceeds it', async () => {
    const ep = await startEndpoint();
    const c = await connect(ep.url);
    const layers = (n: number): string[] => Array.from({ length: n }, (_, i) => `l${i}`);
    c.ws.send(JSON.stringify({ type: 'run_start', run_id: 'a', layers: layers(8), seq: 0 }));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 0 });
    ep.server.updateLimits({
      allowedOrigins: [],
      maxConnections: 256,
      maxMessagesPerSecond: 200_000,
      validation: { maxLayers: 4 },
    });
    c.ws.send(JSON.stringify({ type: 'run_start', run_id: 'b', layers: layers(8), seq: 1 }));
    const reply = (await c.next()) as { type: string; message: string };
    assert.equal(reply.type, 'error');
    assert.match(reply.message, /the limit is 4/);
    assert.equal(ep.hub.store.get('b'), undefined);
    c.ws.close();
    await ep.close();
  });
});
