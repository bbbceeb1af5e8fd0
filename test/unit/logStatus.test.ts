/**
 * What the dashboard shows of a recorded log, from real logs loaded with loadRun: the summary over
 * every step, each read problem located, a torn last line as a note, a file that is no log.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadedStatus, loadingStatus, settleUnfinished } from '../../src/dashboard/logStatus';
import { isRecordedRunLog } from '../../src/logs/paths';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage } from '../../src/protocol/messages';
import { loadRun } from '../../src/runs/loadRun';
import { MAX_SUMMARY_ALERTS } from '../../src/shared/webviewProtocol';
import { tempDir } from '../helpers/logFiles';
import { throughVsCodeTransport } from '../helpers/vscodeTransport';

const dir = tempDir();

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const lines = (messages: ClientMessage[]): string => messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join('');

function steps(
  count: number,
  value: (step: number) => number,
  extra: (step: number) => Partial<ClientMessage> = () => ({}),
): ClientMessage[] {
  return Array.from(
    { length: count },
    (_, step) =>
      ({
        type: 'step',
        run_id: 'r',
        step,
        total_norm: value(step),
        layer_norms: [value(step), 0.5],
        time: 1000 + step * 2,
        ...extra(step),
      }) as ClientMessage,
  );
}

test('a finished run: summary over every step, alerts in step order, first non-finite step and its layers, clip rate, suggested max_norm', async () => {
  const file = write(
    'done.jsonl',
    lines([
      { type: 'run_start', run_id: 'r', name: 'done', layers: ['embed', 'head'], threshold: 5 },
      ...steps(
        300,
        (s) => (s === 100 ? 40 : s === 250 ? NaN : 1 + (s % 10) / 10),
        (s) => ({ clipped: s % 4 === 0 }),
      ),
      { type: 'run_end', run_id: 'r', status: 'completed' },
    ]),
  );
  const status = throughVsCodeTransport(loadedStatus(file, await loadRun(file)));
  assert.equal(status.loading, false);
  assert.deepEqual(status.problems, []);
  assert.deepEqual(status.notes, []);
  const s = status.summary!;
  assert.equal(s.status, 'completed');
  assert.equal(s.steps, 300);
  assert.equal(s.durationSeconds, 598);
  assert.equal(s.max, 40);
  assert.equal(s.maxStep, 100);
  assert.equal(s.nonFiniteSteps, 1);
  assert.deepEqual(s.firstNonFinite, { step: 250, layers: ['embed'] });
  assert.deepEqual(
    s.alerts.map((a) => [a.kind, a.step]),
    [
      ['threshold', 100],
      ['spike', 100],
      ['nonfinite', 250],
    ],
  );
  assert.equal(s.alerts[2].value, 'NaN', 'a non-finite alert value survives the transport');
  assert.equal(s.clipRate, 0.25);
  assert.equal(s.suggestedMaxNorm, 2);
});

test('a crashed run: a bad line is located, a torn last line is a note, everything before is kept; the run is no longer live', async () => {
  const text = lines([{ type: 'run_start', run_id: 'r', layers: ['embed', 'head'] }, ...steps(50, () => 1)]).split(
    '\n',
  );
  text.splice(3, 0, '{"type":"step","run_id":"r","step":');
  const file = write('crashed.jsonl', text.join('\n') + '{"type":"step","run_id":"r","st');
  const loaded = await loadRun(file);
  const status = loadedStatus(file, loaded);
  assert.equal(status.problems.length, 1);
  assert.match(status.problems[0], /^line 4: /);
  assert.match(status.notes.join(' '), /last line was cut short/);
  assert.equal(status.summary?.steps, 50);
  assert.equal(status.summary?.status, 'unfinished');
  settleUnfinished(loaded.run!);
  assert.equal(loaded.run!.state, 'interrupted');
  assert.match(loaded.run!.endMessage ?? '', /without run_end/);
});

test('a file that holds no run, or could not be read at all, says so', async () => {
  const empty = write('empty.jsonl', '');
  const status = loadedStatus(empty, await loadRun(empty));
  assert.equal(status.summary, null);
  assert.match(status.problems.join(' '), /no run in this file/);
  const failed = loadedStatus('/x/unknown.bin', undefined, 'not a log this extension reads');
  assert.deepEqual([failed.summary, failed.problems], [null, ['not a log this extension reads']]);
  assert.deepEqual(loadingStatus('/x/a.jsonl'), {
    type: 'logStatus',
    file: '/x/a.jsonl',
    loading: true,
    problems: [],
    notes: [],
    summary: null,
  });
});

test('the summary lists the first alerts and counts them all', async () => {
  const file = write(
    'many.jsonl',
    lines([
      { type: 'run_start', run_id: 'r', threshold: 5 },
      ...steps(2 * MAX_SUMMARY_ALERTS + 2, (s) => (s % 2 === 0 ? 1 : 50)),
    ]),
  );
  const s = loadedStatus(file, await loadRun(file)).summary!;
  assert.equal(s.alerts.length, MAX_SUMMARY_ALERTS);
  assert.ok(s.alertCount > MAX_SUMMARY_ALERTS);
});

test('our own run logs are told from other .jsonl files by their folder', () => {
  assert.equal(isRecordedRunLog('/w/.gradient-monitor/runs/a-0123456789.jsonl'), true);
  assert.equal(isRecordedRunLog('C:\\w\\.gradient-monitor\\runs\\a.jsonl'), true);
  assert.equal(isRecordedRunLog('/w/data/a.jsonl'), false);
  assert.equal(isRecordedRunLog('/w/.gradient-monitor/runs/sub/a.jsonl'), false);
  assert.equal(isRecordedRunLog('/w/.gradient-monitor/runs/a.csv'), false);
});
