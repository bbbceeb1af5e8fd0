/**
 * Real logs committed by public projects (../shared/real-logs, see its SOURCES.tsv), read as a new
 * user would. Skipped, with a note, where that folder is absent: they are never copied here.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { convertToRunLog } from '../../src/importers/convert';
import { GRAD_NORM_SINCE } from '../../src/importers/hfTrainerState';
import { RunStartMessage } from '../../src/protocol/messages';
import { summarizeLog } from '../../src/runs/summary';
import { collect, tempDir } from '../helpers/logFiles';

const ROOT = path.resolve(__dirname, '..', '..');
// ../shared beside the main checkout; a worktree under wt/ sits one level deeper.
const REAL =
  [
    process.env.GRADIENT_MONITOR_REAL_LOGS,
    path.join(ROOT, '..', 'shared', 'real-logs'),
    path.join(ROOT, '..', '..', 'shared', 'real-logs'),
  ]
    .filter((p): p is string => Boolean(p))
    .find((p) => existsSync(path.join(p, 'SOURCES.tsv'))) ?? path.join(ROOT, '..', 'shared', 'real-logs');
const present = existsSync(path.join(REAL, 'SOURCES.tsv'));
if (!present) console.log(`note: ${REAL} is absent; the real-log import tests are skipped`);
const real = (name: string, fn: () => Promise<void>): void => {
  test(name, { skip: !present && 'no ../shared/real-logs' }, fn);
};
const at = (...parts: string[]): string => path.join(REAL, ...parts);

real(
  'a Hugging Face run: its TensorBoard folder (two files) and its trainer_state.json give the same steps, norms and framework',
  async () => {
    const tb = await collect(at('t5-summarization-demo'));
    const state = await collect(at('t5-summarization-demo', 'trainer_state.json'));
    assert.deepEqual(tb.result.problems, []);
    assert.equal(tb.steps.length, 430);
    assert.equal((tb.messages[0] as RunStartMessage).framework, (state.messages[0] as RunStartMessage).framework);
    assert.deepEqual(
      tb.steps.map((s) => [s.step, s.total_norm, s.loss, s.lr]),
      state.steps.map((s) => [s.step, Math.fround(s.total_norm!), Math.fround(s.loss!), Math.fround(s.lr!)]),
    );
  },
);

real('a Lightning metrics.csv without gradient norms says how to log them', async () => {
  const { steps, result } = await collect(at('slm_training', 'metrics.csv'));
  assert.equal(result.format, 'lightning-csv');
  assert.equal(steps.length, 0);
  assert.match(
    result.problems[0].message,
    /no column holds a gradient norm.*"train_loss_step".*grad_norm\(self, norm_type=2\).*on_before_optimizer_step/,
  );
});

real(
  'an older trainer_state.json: its loss curve, and the Transformers version that began logging grad_norm',
  async () => {
    const dir = tempDir();
    for (const [name, count, first, last] of [
      ['whisper-ja-5k', 200, 25, 5000],
      ['chatglm2-prefix', 300, 10, 3000],
    ] as const) {
      const file = at(name, 'trainer_state.json');
      const { messages, steps, result } = await collect(file);
      assert.deepEqual(result.problems, []);
      assert.equal(steps.length, count);
      assert.deepEqual([steps[0].step, steps.at(-1)!.step], [first, last]);
      assert.ok(steps.every((s) => s.total_norm === undefined && Number.isFinite(s.loss) && Number.isFinite(s.lr)));
      assert.equal(messages.at(-1)!.type, 'run_end');
      assert.deepEqual(result.notes, [
        `loss only: this trainer_state.json predates grad_norm logging (Transformers >= ${GRAD_NORM_SINCE}, ` +
          `huggingface/transformers#27326); its ${count} training-loss entries (steps ${first}-${last}) are imported without gradient norms`,
      ]);

      // The imported run log reads back as the same steps, and its summary is a loss-only run.
      const out = path.join(dir, `${name}.jsonl`);
      await convertToRunLog(file, out);
      const back = await collect(out);
      assert.deepEqual(back.result.problems, []);
      assert.deepEqual(back.steps, steps);
      const s = await summarizeLog(out);
      assert.deepEqual(
        [s.steps, s.norm_steps, s.max_total_norm, s.median_total_norm, s.p99_total_norm, s.status],
        [count, 0, null, null, null, 'completed'],
      );
      assert.deepEqual([s.threshold_exceeded.count, s.nonfinite_steps, s.spikes], [0, 0, []]);
    }
  },
);

real('a Git LFS pointer committed in place of an event file', async () => {
  const pointer = at('whisper-ja-5k', 'events.out.tfevents.1674944078.gpu07.cyverse.org.12415.0');
  await assert.rejects(collect(pointer), {
    message: `${pointer}: this is a Git LFS pointer, not the log itself (the real file has 4419 bytes); run \`git lfs pull\` in its repository to download it`,
  });
});

real('a run folder with an hparams file and no gradient norms names the tags it has', async () => {
  const { steps, result } = await collect(at('serial-lain-ai'));
  assert.equal(steps.length, 0);
  assert.match(result.problems[0].message, /no scalar tag names a gradient norm.*"train\/epoch"/);
});

real('newer trainer states import every grad_norm entry', async () => {
  for (const [file, count] of [
    [at('tinyllama-finetune_trainer_state.json'), 186],
    [at('trainer_state_viz', 'trainer_state.json'), 30],
  ] as const) {
    const { steps, result } = await collect(file);
    assert.equal(steps.length, count, file);
    assert.ok(result.problems.every((p) => !p.fatal));
  }
});
