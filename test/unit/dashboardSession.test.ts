/**
 * The extension side of the dashboard over a real RunStore: updates are coalesced to at most ten a
 * second however fast steps arrive, carry only what changed, survive VS Code's message transport,
 * and the session re-attaches to runs that come back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runStartFor, syntheticSteps } from '../../src/cli/synthetic';
import { Coalescer } from '../../src/dashboard/coalescer';
import { loadedStatus, loadingStatus } from '../../src/dashboard/logStatus';
import { StoreRunSource } from '../../src/dashboard/runSource';
import { DashboardSession } from '../../src/dashboard/session';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { loadRun } from '../../src/runs/loadRun';
import type { Replay } from '../../src/runs/replay';
import { Run, RunStore } from '../../src/runs/runStore';
import {
  ExportMessage,
  HostMessage,
  LayersMessage,
  LogStatusMessage,
  MAX_UPDATES_PER_SECOND,
  SnapshotMessage,
  UpdateMessage,
} from '../../src/shared/webviewProtocol';
import { FakeScheduler } from '../helpers/fakeScheduler';
import { throughVsCodeTransport } from '../helpers/vscodeTransport';

const LAYERS = ['embed', 'block.0', 'head'];

function setup(opts: { series?: { recentSteps: number; envelopeBuckets: number; layerValueBudget: number } } = {}) {
  const clock = new FakeScheduler();
  const store = new RunStore({ series: opts.series, now: () => clock.now() });
  const source = new StoreRunSource(store);
  const posted: HostMessage[] = [];
  const session = new DashboardSession(source, (m) => posted.push(throughVsCodeTransport(m)), { scheduler: clock });
  const start = (id: string, name = id): Run => {
    const run = store.getOrCreate(id);
    run.start({ type: 'run_start', run_id: id, name, layers: LAYERS, threshold: 10 });
    source.changed(run, 'run');
    return run;
  };
  /** One ingested frame: `count` steps, then one change notification (as the Hub emits). */
  let next = 0;
  const frame = (run: Run, count: number, value: (step: number) => number = () => 1): void => {
    for (let i = 0; i < count; i++, next++)
      run.step({
        type: 'step',
        run_id: run.id,
        step: next,
        total_norm: value(next),
        layer_norms: [0.5, value(next), 0.25],
        loss: 2,
        lr: 0.001,
      });
    source.changed(run, 'steps');
  };
  const ofType = <T extends HostMessage['type']>(type: T) =>
    posted.filter((m): m is Extract<HostMessage, { type: T }> => m.type === type);
  return { clock, store, source, session, posted, start, frame, ofType };
}

test('ready: the run list, then a snapshot of the most recent live run', () => {
  const { session, start, frame, posted, clock } = setup();
  const run = start('a');
  frame(run, 50);
  clock.advance(1000);
  assert.equal(posted.length, 0, 'nothing is posted before the webview is ready');
  session.handle({ type: 'ready' });
  assert.equal(posted.length, 1, 'one message');
  const snapshot = posted[0] as SnapshotMessage;
  assert.equal(snapshot.type, 'snapshot');
  assert.deepEqual(
    snapshot.runs?.runs.map((r) => [r.id, r.state, r.steps]),
    [['a', 'live', 50]],
  );
  assert.equal(snapshot.runs?.selected, 'a');
  assert.equal(snapshot.rows.steps.length, 50);
  assert.deepEqual(snapshot.run.layers, LAYERS);
  assert.equal(snapshot.run.firstStep, 0);
  assert.equal(snapshot.run.lastStep, 49);
});

test('a thousand frames in one second become at most MAX_UPDATES_PER_SECOND updates carrying every step exactly once', () => {
  const { session, start, frame, clock, ofType } = setup();
  const run = start('a');
  session.handle({ type: 'ready' });
  const before = ofType('update').length;
  for (let ms = 0; ms < 1000; ms++) {
    frame(run, 3);
    clock.advance(1);
  }
  clock.advance(200);
  const updates = ofType('update').slice(before);
  assert.ok(
    updates.length <= MAX_UPDATES_PER_SECOND + 1 && updates.length >= MAX_UPDATES_PER_SECOND - 1,
    `${updates.length} updates`,
  );
  const steps = updates.flatMap((u) => [...(u.append?.rows.steps ?? [])]);
  assert.deepEqual(
    steps,
    Array.from({ length: 3000 }, (_, i) => i),
    'appends are disjoint and complete',
  );
  assert.equal(ofType('snapshot').length, 1, 'no resend of the whole series');
});

test('updates pace themselves: none closer than 1000 / MAX_UPDATES_PER_SECOND ms apart', () => {
  const { session, start, frame, clock, posted } = setup();
  const run = start('a');
  session.handle({ type: 'ready' });
  const stamps: number[] = [];
  const original = posted.push.bind(posted);
  posted.push = (...items: HostMessage[]) => {
    stamps.push(clock.now());
    return original(...items);
  };
  for (let ms = 0; ms < 2000; ms += 7) {
    frame(run, 1);
    clock.advance(7);
  }
  for (let i = 1; i < stamps.length; i++)
    assert.ok(stamps[i] - stamps[i - 1] >= 1000 / MAX_UPDATES_PER_SECOND, `gap ${stamps[i] - stamps[i - 1]} ms`);
});

test('non-finite norms and alert values survive the JSON transport', () => {
  const { session, start, frame, clock, ofType } = setup();
  const run = start('a');
  session.handle({ type: 'ready' });
  frame(run, 30, (s) => (s === 12 ? NaN : s === 20 ? Infinity : s === 25 ? 50 : 1));
  clock.advance(200);
  const append = ofType('update').find((u) => u.append)?.append;
  assert.ok(append);
  assert.ok(Number.isNaN(append.rows.totals[12]));
  assert.equal(append.rows.totals[20], Infinity);
  assert.ok(append.rows.totals instanceof Float64Array);
  const nonfinite = append.alerts.find((a) => a.kind === 'nonfinite');
  assert.equal(nonfinite?.value, 'NaN');
  assert.equal(nonfinite?.step, 12);
  assert.ok(append.alerts.some((a) => (a.kind === 'threshold' && a.value === 'Infinity') || a.value === 50));
  clock.advance(1000); // summaries refresh once a second
  const summary = ofType('update')
    .filter((u) => u.summary)
    .at(-1)?.summary;
  assert.equal(summary?.steps, 30);
  assert.equal(summary?.median, 1);
  assert.equal(append.run.nonFinite, 2);
});

test('statistics refresh once a second, except that the first steps of a run get them at once', () => {
  const { session, start, frame, clock, ofType } = setup();
  const run = start('a');
  session.handle({ type: 'ready' });
  assert.equal(ofType('snapshot')[0].summary.steps, 0);
  frame(run, 10);
  clock.advance(0);
  assert.equal(ofType('update').at(-1)?.summary?.steps, 10, 'first steps: statistics in the same update');
  const withSummary = (): number => ofType('update').filter((u) => u.summary).length;
  const before = withSummary();
  for (let i = 0; i < 9; i++) {
    frame(run, 10);
    clock.advance(100);
  }
  assert.equal(withSummary() - before, 0, 'within the second: appends only');
  frame(run, 10);
  clock.advance(150);
  assert.equal(withSummary() - before, 1);
});

test('alerts are sent once: in the snapshot or in the update after they fire', () => {
  const { session, start, frame, clock, ofType } = setup();
  const run = start('a');
  frame(run, 10, (s) => (s === 5 ? 99 : 1));
  session.handle({ type: 'ready' });
  assert.deepEqual(
    ofType('snapshot')[0].alerts.map((a) => a.step),
    [5],
  );
  frame(run, 10, (s) => (s === 15 ? NaN : 1));
  clock.advance(200);
  const sent = ofType('update').flatMap((u) => u.append?.alerts ?? []);
  assert.deepEqual(
    sent.map((a) => [a.kind, a.step]),
    [['nonfinite', 15]],
  );
});

test('when the webview fell behind what the store keeps raw, it gets a fresh snapshot instead of an append', () => {
  const { session, start, frame, clock, ofType } = setup({
    series: { recentSteps: 200, envelopeBuckets: 16, layerValueBudget: 1e6 },
  });
  const run = start('a');
  session.handle({ type: 'ready' });
  assert.equal(ofType('snapshot').length, 1);
  for (let i = 0; i < 5; i++) frame(run, 100); // 500 steps within one interval: 300 folded before the flush
  clock.advance(200);
  const snapshots = ofType('snapshot');
  assert.equal(snapshots.length, 2);
  assert.equal(snapshots[1].run.lastStep, 499);
  assert.ok(snapshots[1].bucketWidth > 1);
});

test('webview memory stays bounded: appends beyond the store window are replaced by a snapshot', () => {
  const { session, start, frame, clock, ofType } = setup({
    series: { recentSteps: 300, envelopeBuckets: 16, layerValueBudget: 1e6 },
  });
  const run = start('a');
  session.handle({ type: 'ready' });
  for (let i = 0; i < 10; i++) {
    frame(run, 50);
    clock.advance(150);
  }
  assert.equal(ofType('snapshot').length, 2, 'one resync after 300 appended rows');
});

test('a run that is not there yet is waited for and shown when it streams (restored panel)', () => {
  const { session, start, frame, ofType } = setup();
  session.handle({ type: 'ready', runId: 'resumed' });
  assert.equal((ofType('update')[0] as UpdateMessage).runs?.waitingFor, 'resumed');
  assert.equal(ofType('snapshot').length, 0);
  start('other');
  assert.equal(ofType('snapshot').length, 0, 'another run does not take the place of the awaited one');
  const run = start('resumed');
  frame(run, 5);
  const snap = ofType('snapshot').at(-1);
  assert.equal(snap?.run.id, 'resumed');
});

test('a command selects a run before the page is ready; the page then gets that run', () => {
  const { session, start, ofType } = setup();
  start('a');
  start('b');
  session.select('a');
  assert.equal(ofType('snapshot').length, 0);
  session.handle({ type: 'ready', runId: 'b' });
  assert.equal(ofType('snapshot')[0].run.id, 'a');
});

test('a hidden page gets nothing; once it says ready again it is brought up to date with a snapshot', () => {
  const { session, start, frame, clock, posted, ofType } = setup();
  const run = start('a');
  session.handle({ type: 'ready' });
  session.detach();
  const count = posted.length;
  frame(run, 100);
  clock.advance(2000);
  assert.equal(posted.length, count);
  session.handle({ type: 'ready', runId: 'a' });
  assert.equal(ofType('snapshot').at(-1)?.rows.steps.length, 100);
});

test('layer views answer requests and keep refreshing only while they follow a live run', () => {
  const { session, start, frame, clock, ofType } = setup();
  const run = start('a');
  frame(run, 100, (s) => (s === 70 ? 40 : 1));
  session.handle({ type: 'ready' });
  session.handle({ type: 'viewLayers', runId: 'a', window: { kind: 'all' }, columns: 10, requestId: 7 });
  const reply = ofType('layers')[0] as LayersMessage;
  assert.equal(reply.view.requestId, 7);
  assert.deepEqual([reply.view.from, reply.view.to, reply.view.columns], [0, 99, 10]);
  assert.equal(reply.view.values[7 * 3 + 1], 40);
  frame(run, 100);
  clock.advance(200);
  const pushed = ofType('update')
    .filter((u) => u.layers)
    .at(-1)?.layers;
  assert.equal(pushed?.to, 199, 'a following view moves with the run');
  session.handle({
    type: 'viewLayers',
    runId: 'a',
    window: { kind: 'range', from: 0, to: 50 },
    columns: 10,
    requestId: 8,
  });
  const updatesBefore = ofType('update').filter((u) => u.layers).length;
  frame(run, 100);
  clock.advance(200);
  assert.equal(ofType('update').filter((u) => u.layers).length, updatesBefore, 'a fixed range is not recomputed');
});

test('malformed webview messages are ignored', () => {
  const { session, posted } = setup();
  for (const m of [
    null,
    42,
    'ready',
    { type: 'nope' },
    { type: 'selectRun' },
    { type: 'viewLayers', runId: 'a', window: { kind: 'range', from: 5, to: 1 }, columns: 10, requestId: 1 },
  ])
    session.handle(m);
  assert.equal(posted.length, 0);
});

test('Coalescer: the first request flushes at once, a burst flushes once per interval, nothing is lost', () => {
  const clock = new FakeScheduler();
  const flushes: number[] = [];
  const c = new Coalescer(() => flushes.push(clock.now()), 100, clock);
  c.request();
  clock.advance(0);
  assert.deepEqual(flushes, [0]);
  for (let t = 0; t < 250; t += 10) {
    c.request();
    clock.advance(10);
  }
  assert.deepEqual(flushes, [0, 100, 200]);
  clock.advance(100);
  assert.deepEqual(flushes, [0, 100, 200, 300], 'the trailing request is flushed');
  clock.advance(1000);
  assert.equal(flushes.length, 4);
  c.request();
  c.dispose();
  clock.advance(1000);
  assert.equal(flushes.length, 4, 'disposed: no flush');
});

test('a recorded log loaded with loadRun plugs into the same session (the post-run seam)', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-dash-')), 'run.jsonl');
  const o = { runId: 'logged', steps: 3000, spikeAt: 1000, nanAt: 2000 };
  const lines = [runStartFor(o), ...syntheticSteps(o), { type: 'run_end', run_id: 'logged', status: 'completed' }].map(
    (m) => stringifyKeepingNonFinite(m),
  );
  writeFileSync(file, lines.join('\n') + '\n');
  const { run } = await loadRun(file);
  assert.ok(run);
  const source = new StoreRunSource({ all: () => [run], get: (id: string) => (id === run.id ? run : undefined) });
  const posted: HostMessage[] = [];
  const session = new DashboardSession(source, (m) => posted.push(throughVsCodeTransport(m)), {
    scheduler: new FakeScheduler(),
  });
  session.handle({ type: 'ready' });
  const snapshot = posted[0] as SnapshotMessage;
  assert.equal(snapshot.run.id, 'logged');
  assert.equal(snapshot.run.state, 'completed');
  assert.equal(snapshot.rows.steps.length, 3000);
  assert.ok(Number.isNaN(snapshot.rows.totals[2000]));
  assert.deepEqual(
    snapshot.alerts.map((a) => [a.kind, a.step]).filter(([k]) => k === 'nonfinite'),
    [['nonfinite', 2000]],
  );
  session.dispose();
});

test('a log draws while it loads (the partial run grows by appends), and its status comes back with every reload of the page', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-dash-')), 'run.jsonl');
  const o = { runId: 'loading', steps: 20_000 };
  writeFileSync(file, [runStartFor(o), ...syntheticSteps(o)].map((m) => stringifyKeepingNonFinite(m) + '\n').join(''));
  const clock = new FakeScheduler();
  let run: Run | undefined;
  const source = new StoreRunSource({
    all: () => (run ? [run] : []),
    get: (id: string) => (id === run?.id ? run : undefined),
  });
  const posted: HostMessage[] = [];
  const session = new DashboardSession(source, (m) => posted.push(throughVsCodeTransport(m)), { scheduler: clock });
  session.showLogStatus(loadingStatus(file));
  assert.equal(posted.length, 0, 'nothing before the page is ready');
  session.handle({ type: 'ready' });
  assert.deepEqual(
    posted.map((m) => m.type),
    ['logStatus', 'update'],
    'the status, then the (empty) run list',
  );
  const seen: number[] = [];
  const loaded = await loadRun(file, {
    progressIntervalMs: 0,
    onProgress: (p) => {
      if (!p.run) return;
      const first = run === undefined;
      run = p.run;
      source.changed(p.run, first ? 'run' : 'steps');
      clock.advance(100); // the coalescer flushes between chunks
      seen.push(p.steps);
    },
  });
  assert.ok(seen.length > 2 && seen[0] < 20_000, `drawn in several chunks (${seen.join(', ')})`);
  const snapshots = posted.filter((m): m is SnapshotMessage => m.type === 'snapshot');
  const appended = posted
    .filter((m): m is UpdateMessage => m.type === 'update' && m.append !== undefined)
    .reduce((n, m) => n + m.append!.rows.steps.length, 0);
  assert.equal(snapshots.length, 1, 'one snapshot of the first chunk, then appends');
  assert.equal(snapshots[0].rows.steps.length + appended, 20_000, 'every step reaches the page once');
  session.showLogStatus(loadedStatus(file, loaded));
  assert.equal(posted.at(-1)?.type, 'logStatus');
  session.detach();
  posted.length = 0;
  session.handle({ type: 'ready', runId: 'loading' });
  assert.deepEqual(
    posted.map((m) => m.type),
    ['logStatus', 'snapshot'],
    'a reloaded page gets the final status and the run',
  );
  assert.equal((posted[0] as LogStatusMessage).summary?.steps, 20_000);
  session.dispose();
});

test('export requests reach the adapter only for runs the session shows', () => {
  const { session, start, store } = setup();
  const requests: ExportMessage[] = [];
  const withExport = new DashboardSession(new StoreRunSource(store), () => undefined, {
    scheduler: new FakeScheduler(),
    onExport: (r) => requests.push(r),
  });
  start('a');
  withExport.handle({ type: 'exportCsv', runId: 'a', from: 0, to: 10 });
  withExport.handle({ type: 'exportCsv', runId: 'unknown', from: 0, to: 10 });
  withExport.handle({ type: 'exportPng', runId: 'a', dataUrl: 'data:image/png;base64,AAAA' });
  withExport.handle({ type: 'exportPng', runId: 'a', dataUrl: 'javascript:alert(1)' });
  assert.deepEqual(
    requests.map((r) => [r.type, r.runId]),
    [
      ['exportCsv', 'a'],
      ['exportPng', 'a'],
    ],
  );
  session.dispose();
  withExport.dispose();
});

test('Reproduce reaches the adapter with the snapshot the run reported, never a path from the page', () => {
  const { session, start, store, frame } = setup();
  const replays: Replay[] = [];
  const withReplay = new DashboardSession(new StoreRunSource(store), () => undefined, {
    scheduler: new FakeScheduler(),
    onReproduce: (r) => replays.push(r),
  });
  const a = start('a');
  frame(a, 3);
  withReplay.handle({ type: 'reproduce', runId: 'a' }); // no non-finite step yet
  const snapshot = '/runs/.gradient-monitor/snapshots/a/step-3.pt';
  a.step({
    type: 'step',
    run_id: 'a',
    step: 3,
    total_norm: NaN,
    nonfinite_origin: { phase: 'forward', module: 'gate', snapshot },
  });
  a.step({
    type: 'step',
    run_id: 'a',
    step: 4,
    total_norm: NaN,
    nonfinite_origin: { phase: 'forward', module: 'gate', snapshot: '/elsewhere/step-4.pt' },
  });
  const b = start('b');
  b.step({ type: 'step', run_id: 'b', step: 0, total_norm: NaN, nonfinite_origin: { phase: 'input' } });
  withReplay.handle({ type: 'reproduce', runId: 'a', snapshot: '/etc/passwd' });
  withReplay.handle({ type: 'reproduce', runId: 'b' }); // traced, but no snapshot saved
  withReplay.handle({ type: 'reproduce', runId: 'unknown' });
  withReplay.handle({ type: 'reproduce', runId: 7 });
  assert.deepEqual(replays, [{ runId: 'a', step: 3, snapshot }]);
  session.dispose();
  withReplay.dispose();
});
