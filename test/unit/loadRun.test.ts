import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ALERT_SETTINGS } from '../../src/alerts/rules';
import { runStartFor, syntheticSteps } from '../../src/cli/synthetic';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage, StepMessage } from '../../src/protocol/messages';
import { LoadProgress, loadRun } from '../../src/runs/loadRun';
import { reportFor } from '../../src/runs/runReport';
import { formatDuration } from '../../src/shared/format';
import { DEFAULT_SERIES_LIMITS } from '../../src/runs/series';
import { normStats, suggestMaxNorm } from '../../src/runs/stats';
import { tempDir } from '../helpers/logFiles';
import { eventFile } from '../helpers/tfeventsWriter';

const dir = tempDir();

function writeLog(name: string, messages: ClientMessage[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join(''));
  return file;
}

function syntheticLog(
  name: string,
  steps: number,
  extra: Partial<{ spikeAt: number; nanAt: number }> = {},
): { file: string; messages: ClientMessage[] } {
  const o = { runId: name, steps, ...extra };
  const messages: ClientMessage[] = [
    runStartFor(o),
    ...syntheticSteps(o),
    { type: 'run_end', run_id: name, status: 'completed' },
  ];
  return { file: writeLog(`${name}.jsonl`, messages), messages };
}

test('a large log reports a partial run after its first chunk, then progress, then the whole run', async () => {
  const { file } = syntheticLog('big', 20_000, { spikeAt: 15_000 }); // about 6 MB: several 1 MiB chunks
  const seen: { steps: number; bytes: number; same: boolean }[] = [];
  let first: LoadProgress['run'];
  const loaded = await loadRun(file, {
    progressIntervalMs: 0,
    onProgress: (p) => {
      first ??= p.run;
      seen.push({ steps: p.steps, bytes: p.bytes, same: p.run === first });
    },
  });
  assert.ok(seen.length >= 3, `progress reported ${seen.length} times`);
  assert.ok(seen[0].steps > 0 && seen[0].steps < 20_000, `the first report has a partial run (${seen[0].steps} steps)`);
  assert.ok(
    seen.every((s) => s.same),
    'every report hands out the same Run object',
  );
  assert.deepEqual(seen.at(-1), { steps: 20_000, bytes: loaded.read.bytes, same: true });
  assert.ok(seen.every((s, i) => i === 0 || s.steps >= seen[i - 1].steps));
  assert.equal(loaded.run?.state, 'completed');
  assert.equal(loaded.run?.stepCount, 20_000);
  assert.deepEqual(loaded.run?.rules.spikes, [15_000]);
});

test('loading gives the event loop turns while it works', async () => {
  const { file } = syntheticLog('turns', 20_000);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await loadRun(file);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'a timer fired during the load');
});

test('an abort stops the load', async () => {
  const { file } = syntheticLog('aborted', 20_000);
  const controller = new AbortController();
  await assert.rejects(
    loadRun(file, { onProgress: () => controller.abort(), signal: controller.signal }),
    (e: Error) => e.name === 'AbortError',
  );
});

test('the report covers every step, not the bounded chart series', async () => {
  const runId = 'report';
  const steps: StepMessage[] = [];
  for (let s = 0; s < 2000; s++) {
    const total = s === 1500 ? NaN : s === 700 ? 500 : 1 + (s % 10) / 10;
    steps.push({
      type: 'step',
      run_id: runId,
      step: s,
      total_norm: total,
      layer_norms: [total, 0.1],
      clipped: s % 4 === 0,
      time: 1000 + s * 0.5,
    });
  }
  const file = writeLog('report.jsonl', [
    { type: 'run_start', run_id: runId, name: 'report run', layers: ['a', 'b'] },
    ...steps,
  ]);
  // A tiny series: most steps are folded into envelope buckets, yet the statistics must be exact.
  const loaded = await loadRun(file, { series: { ...DEFAULT_SERIES_LIMITS, recentSteps: 64, envelopeBuckets: 16 } });
  const r = reportFor(loaded);
  const totals = steps.map((s) => s.total_norm!);
  assert.equal(r.steps, 2000);
  assert.equal(r.status, 'unfinished');
  assert.equal(r.durationSeconds, 999.5);
  assert.deepEqual(r.norm, normStats(totals));
  assert.equal(r.norm.max, 500);
  assert.equal(r.maxNormStep, 700);
  assert.equal(r.suggestedMaxNorm, suggestMaxNorm(totals));
  assert.equal(r.clipRate, 0.25);
  assert.deepEqual(r.firstNonFinite, { step: 1500, layers: ['a'] });
  assert.deepEqual(
    r.alerts.map((a) => [a.kind, a.step]),
    [
      ['threshold', 700],
      ['spike', 700],
      ['nonfinite', 1500],
    ],
  );
  assert.equal(r.alertCount, 3);
  assert.equal(r.threshold, DEFAULT_ALERT_SETTINGS.threshold);
  assert.equal(loaded.run?.startedAt, 1_000_000);
  assert.equal(loaded.run?.updatedAt, 1_999_500);
});

test('imported formats load the same way, and other runs in one file are named, not mixed in', async () => {
  const tb = path.join(dir, 'events.out.tfevents.1700000000.host');
  writeFileSync(
    tb,
    eventFile([0, 1, 2].map((step) => ({ step, values: [{ tag: 'grad_norm', simple: step === 1 ? NaN : 1 }] }))),
  );
  const loaded = await loadRun(tb);
  assert.equal(loaded.read.format, 'tensorboard');
  assert.equal(reportFor(loaded).firstNonFinite?.step, 1);

  const mixed = writeLog('mixed.jsonl', [
    { type: 'step', run_id: 'a', step: 0, total_norm: 1 },
    { type: 'step', run_id: 'b', step: 0, total_norm: 2 },
    { type: 'step', run_id: 'a', step: 1, total_norm: 1 },
  ]);
  const m = await loadRun(mixed);
  assert.equal(m.run?.id, 'a');
  assert.equal(m.run?.stepCount, 2);
  assert.deepEqual(m.otherRunIds, ['b']);
});

test('an empty log loads as no run', async () => {
  const file = writeLog('empty.jsonl', []);
  const loaded = await loadRun(file);
  assert.equal(loaded.run, undefined);
  const r = reportFor(loaded);
  assert.equal(r.status, 'empty');
  assert.equal(r.steps, 0);
  assert.equal(r.suggestedMaxNorm, null);
});

test('durations read as people say them', () => {
  assert.deepEqual([45, 725, 12_000, 190_000, NaN].map(formatDuration), ['45s', '12m 5s', '3h 20m', '2d 4h', '-']);
});
