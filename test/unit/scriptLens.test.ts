/**
 * The CodeLens text over a training script: a live run's latest and largest norm, its clip rate
 * and suggested max_norm; a recorded log's numbers from its summary; the lines that get a lens,
 * found by the real tree-sitter analysis.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { summarizeLog } from '../../src/runs/summary';
import { PythonAnalysis } from '../../src/python/analyze';
import { pythonParser } from '../../src/python/parser';
import { describeRunFile, RunFile } from '../../src/runs/runFiles';
import { RunStore } from '../../src/runs/runStore';
import { factsOfRun, factsOfSummary, latestRecordedRun, lensLines, lensTitle } from '../../src/runs/scriptLens';

const SCRIPT = '/work/project/train.py';

test('a live run: latest norm, maximum, clip rate and suggested max_norm, in that order', () => {
  const store = new RunStore();
  const run = store.getOrCreate('a');
  run.start({ type: 'run_start', run_id: 'a', name: 'a', meta: { script: SCRIPT } });
  for (let step = 0; step < 100; step++) {
    const total = step === 50 ? 31.3 : 0.5 + (step % 10) * 0.05;
    run.step({ type: 'step', run_id: 'a', step, total_norm: total, clipped: step % 8 === 0 });
  }
  run.step({ type: 'step', run_id: 'a', step: 100, total_norm: 0.82, clipped: false });
  const facts = factsOfRun(run);
  assert.equal(facts.live, true);
  // 13 of 101 steps clipped (0, 8, ..., 96).
  assert.equal(lensTitle(facts), 'grad 0.82 · max 31.3 · clipped 13% · suggested max_norm 1');
});

test('the maximum survives old steps being folded into envelopes', () => {
  const store = new RunStore({ series: { recentSteps: 64, envelopeBuckets: 8, layerValueBudget: 1024 } });
  const run = store.getOrCreate('a');
  for (let step = 0; step < 1000; step++)
    run.step({ type: 'step', run_id: 'a', step, total_norm: step === 3 ? 500 : step === 7 ? NaN : 1 });
  const facts = factsOfRun(run);
  assert.equal(facts.max, 500);
  assert.equal(facts.clipRate, null, 'no step said whether it was clipped');
  assert.equal(lensTitle(facts), 'grad 1 · max 500 · suggested max_norm 1');
});

test('a run with no steps yet, and rates near the ends, read sensibly', () => {
  const run = new RunStore().getOrCreate('empty');
  assert.equal(lensTitle(factsOfRun(run)), 'grad …');
  const base = { runName: 'r', live: true, latest: 1, max: 1, suggestedMaxNorm: undefined };
  assert.match(lensTitle({ ...base, clipRate: 0.001 }), /clipped <1%/);
  assert.match(lensTitle({ ...base, clipRate: 0.999 }), /clipped >99%/);
  assert.match(lensTitle({ ...base, clipRate: 0 }), /clipped 0%/);
});

test('a recorded log: its summary numbers, named by the run', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gm-lens-'));
  const log = path.join(dir, 'r1.jsonl');
  const lines = [
    JSON.stringify({ type: 'run_start', run_id: 'r1', name: 'baseline', meta: { script: SCRIPT } }),
    ...Array.from({ length: 40 }, (_, step) =>
      JSON.stringify({
        type: 'step',
        run_id: 'r1',
        step,
        total_norm: step === 30 ? 12 : 2 + (step % 5) * 0.1,
        clipped: step === 30,
      }),
    ),
  ];
  writeFileSync(log, lines.join('\n') + '\n');
  const facts = factsOfSummary(await summarizeLog(log));
  assert.equal(lensTitle(facts), 'last run baseline · max 12 · clipped 3% · suggested max_norm 2.5');

  const file = await describeRunFile(log, dir);
  assert.equal(file?.script, SCRIPT, 'the listing reads the script from run_start.meta');
  const other: RunFile = { ...file!, path: path.join(dir, 'old.jsonl'), firstTime: 0, mtimeMs: 0 };
  const unrelated: RunFile = { ...file!, path: path.join(dir, 'x.jsonl'), script: '/elsewhere/train.py' };
  assert.equal(latestRecordedRun([other, file!, unrelated], SCRIPT)?.path, log);
  assert.equal(latestRecordedRun([unrelated], SCRIPT), undefined);
});

test('lenses go on the optimizer step and on the clipping call, once per line', async () => {
  const parser = await pythonParser();
  const script = [
    'import torch',
    'model = torch.nn.Linear(2, 1)',
    'opt = torch.optim.SGD(model.parameters(), lr=0.1)',
    'for x in range(10):',
    '    loss = model(torch.randn(4, 2)).sum()',
    '    loss.backward()',
    '    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)',
    '    opt.step()',
    '    opt.zero_grad()',
    '',
  ].join('\n');
  const analysis = new PythonAnalysis(parser, script);
  try {
    assert.deepEqual(lensLines(analysis.sites), [6, 7]);
  } finally {
    analysis.dispose();
  }
  const trainer = new PythonAnalysis(
    parser,
    'from transformers import Trainer, TrainingArguments\ntrainer = Trainer(model=model, args=TrainingArguments("out"))\ntrainer.train()\n',
  );
  try {
    assert.deepEqual(lensLines(trainer.sites), [1]);
  } finally {
    trainer.dispose();
  }
});
