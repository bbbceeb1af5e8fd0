/**
 * Compare mode's pure parts: the comparison message keeps every run's maximum and non-finite steps
 * through the envelope, per run and in the members' order; the session resends (coalesced) only when
 * a compared run changes; the page's overlay aligns runs on one step extent, each in its own look.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompareMember, compareMessage, CompareSession } from '../../src/dashboard/compareSession';
import { StoreRunSource } from '../../src/dashboard/runSource';
import { Run, RunStore } from '../../src/runs/runStore';
import { CompareMessage, HostMessage } from '../../src/shared/webviewProtocol';
import { Overlay, overlayStyle } from '../../webview/overlay';
import { FakeScheduler } from '../helpers/fakeScheduler';
import { throughVsCodeTransport } from '../helpers/vscodeTransport';

// Small limits so that most of each run is folded into min/max buckets.
const SERIES = { recentSteps: 64, envelopeBuckets: 32, layerValueBudget: 1 << 16 };

function runWith(store: RunStore, id: string, from: number, count: number, special: Record<number, number>): Run {
  const run = store.getOrCreate(id);
  run.start({ type: 'run_start', run_id: id, name: `${id} name`, layers: ['a'] });
  for (let step = from; step < from + count; step++) {
    const total = special[step] ?? 1 + 0.1 * Math.sin(step);
    run.step({ type: 'step', run_id: id, step, total_norm: total, layer_norms: [total] });
  }
  return run;
}

const member = (key: string, run: Run | undefined): CompareMember => ({ key, run: () => run });

function maxOf(rows: { totals: Float64Array; steps: Float64Array }): { max: number; step: number } {
  let best = { max: -Infinity, step: -1 };
  rows.totals.forEach((v, i) => {
    if (Number.isFinite(v) && v > best.max) best = { max: v, step: rows.steps[i] };
  });
  return best;
}

test('each compared run keeps its own maximum and non-finite steps through the envelope, in the members order', () => {
  const store = new RunStore({ series: SERIES });
  const a = runWith(store, 'a', 0, 20_000, { 1234: 80, 15_000: NaN });
  const b = runWith(store, 'b', 5_000, 30_000, { 9_999: 40, 30_001: Infinity });
  const m = throughVsCodeTransport(
    compareMessage([member('file:b', b), member('pending', undefined), member('live:a', a)]),
  );
  assert.deepEqual(
    m.runs.map((r) => r.key),
    ['file:b', 'live:a'],
    'a member still loading is left out',
  );
  const [rb, ra] = m.runs;
  assert.ok(ra.bucketWidth > 1 && rb.bucketWidth > 1, 'old steps are bucketed');
  assert.ok(ra.rows.steps.length < 1000, 'rows stay bounded');
  assert.deepEqual(maxOf(ra.rows), { max: 80, step: 1234 });
  assert.deepEqual(maxOf(rb.rows), { max: 40, step: 9_999 });
  assert.ok(Number.isNaN(ra.rows.totals[[...ra.rows.steps].indexOf(15_000)]), 'NaN step of a');
  assert.equal(rb.rows.totals[[...rb.rows.steps].indexOf(30_001)], Infinity, 'Infinity step of b');
  assert.equal(ra.run.name, 'a name');
  assert.deepEqual([rb.run.firstStep, rb.run.lastStep], [5_000, 34_999]);
});

test('one run twice (live and its own log) stays two members', () => {
  const store = new RunStore();
  const a = runWith(store, 'a', 0, 10, {});
  assert.deepEqual(
    compareMessage([member('live:a', a), member('file:/runs/a.jsonl', a)]).runs.map((r) => r.key),
    ['live:a', 'file:/runs/a.jsonl'],
  );
});

test('the session answers ready, resends at most once a second when a compared run changes, and ignores other runs', () => {
  const clock = new FakeScheduler();
  const store = new RunStore();
  const source = new StoreRunSource(store);
  const a = runWith(store, 'a', 0, 10, {});
  const other = runWith(store, 'other', 0, 10, {});
  const posted: HostMessage[] = [];
  const session = new CompareSession([member('a', a)], [source], (m) => posted.push(m), { scheduler: clock });
  source.changed(a);
  clock.advance(2000);
  assert.equal(posted.length, 0, 'nothing before the page is ready');
  session.handle({ type: 'ready' });
  assert.equal(posted.length, 1);
  assert.equal((posted[0] as CompareMessage).runs[0].run.steps, 10);
  const grow = (n: number): void => {
    for (let i = 0; i < n; i++) {
      a.step({ type: 'step', run_id: 'a', step: a.lastStep + 1, total_norm: 1 });
      source.changed(a);
    }
  };
  grow(5);
  clock.advance(0);
  assert.equal(posted.length, 2, 'the first change after a quiet second goes out at once');
  grow(50);
  source.changed(other);
  clock.advance(999);
  assert.equal(posted.length, 2, 'a burst is coalesced to one resend a second');
  clock.advance(1);
  assert.equal(posted.length, 3);
  assert.equal((posted[2] as CompareMessage).runs[0].run.steps, 65);
  source.changed(other);
  clock.advance(5000);
  assert.equal(posted.length, 3, 'a run outside the comparison changes nothing');
  session.detach();
  source.changed(a);
  clock.advance(5000);
  assert.equal(posted.length, 3, 'nothing while the page is gone');
  session.handle({ type: 'ready' });
  assert.equal(posted.length, 4, 'the page back gets the comparison again');
  session.dispose();
  source.changed(a);
  clock.advance(5000);
  assert.equal(posted.length, 4);
});

test('the overlay aligns runs on the union of their steps, each in its palette color, dashed once colors repeat', () => {
  const store = new RunStore();
  const runs = [
    runWith(store, 'a', 100, 50, {}),
    runWith(store, 'b', 0, 20, {}),
    runWith(store, 'c', 400, 10, { 405: NaN }),
  ];
  const empty = store.getOrCreate('empty');
  empty.start({ type: 'run_start', run_id: 'empty', name: 'empty' });
  const overlay = new Overlay();
  const palette = ['red', 'green', 'blue'];
  overlay.load(compareMessage([...runs, empty].map((r) => member(r.id, r))), palette);
  assert.deepEqual([overlay.firstStep, overlay.lastStep], [0, 409], 'an empty run does not spoil the extent');
  assert.deepEqual(
    overlay.runs.map((r) => [r.key, r.color, r.dash.length > 0]),
    [
      ['a', 'red', false],
      ['b', 'green', false],
      ['c', 'blue', false],
      ['empty', 'red', true],
    ],
  );
  assert.deepEqual(
    overlay.runs[2].data.nonFinite.map((p) => p.step),
    [405],
  );
  assert.equal(overlay.live, true, 'runs without run_end are live');
  overlay.restyle(['x', 'y']);
  assert.deepEqual(
    overlay.runs.map((r) => r.color),
    ['x', 'y', 'x', 'y'],
  );
  assert.deepEqual(overlayStyle(['x'], 0), { color: 'x', dash: [] });
});
