import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ALERT_SETTINGS } from '../../src/alerts/rules';
import { Run } from '../../src/runs/runStore';
import { DEFAULT_SERIES_LIMITS } from '../../src/runs/series';
import { collect, tempDir } from '../helpers/logFiles';

const dir = tempDir();

/** Writes a trainer state the way Transformers does: json.dumps(asdict(state), indent=2, sort_keys=True) + "\n". */
function writeTrainerState(file: string, state: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // The state is a Python expression so NaN and inf reach json.dumps as real floats.
  const script = `import json, sys\nstate = ${state}\nopen(sys.argv[1], "w").write(json.dumps(state, indent=2, sort_keys=True) + "\\n")\n`;
  execFileSync('/usr/bin/python3', ['-c', script, file]);
}

const NAN = 'float("nan")';
const INF = 'float("inf")';

function stateWith(globalStep: number, maxSteps: number, entries: string[]): string {
  return `{"best_metric": None, "best_model_checkpoint": None, "epoch": 1.0, "eval_steps": 500, "global_step": ${globalStep},
    "is_hyper_param_search": False, "is_local_process_zero": True, "is_world_process_zero": True, "logging_steps": 10,
    "max_steps": ${maxSteps}, "num_train_epochs": 1, "train_batch_size": 8, "total_flos": 0, "trial_name": None, "trial_params": None,
    "log_history": [${entries.join(', ')}]}`;
}

const train = (step: number, norm: string | number, loss = 2.5): string =>
  `{"epoch": ${step / 100}, "grad_norm": ${norm}, "learning_rate": 5e-05, "loss": ${loss}, "step": ${step}}`;
const evalEntry = (step: number): string =>
  `{"epoch": ${step / 100}, "eval_loss": 2.1, "eval_runtime": 3.2, "step": ${step}}`;
const summary = (step: number): string =>
  `{"epoch": 1.0, "step": ${step}, "total_flos": 123, "train_loss": 2.0, "train_runtime": 60.5}`;

test('a finished run: grad_norm steps with loss and lr, NaN and inf kept and flagged, eval and summary entries left out', async () => {
  const file = path.join(dir, 'bert-finetune', 'trainer_state.json');
  writeTrainerState(
    file,
    stateWith(60, 60, [
      train(10, 1.25),
      train(20, NAN),
      evalEntry(20),
      train(30, 0.75),
      train(40, INF),
      train(50, 0.5),
      train(60, 0.5),
      summary(60),
    ]),
  );
  assert.match(readFileSync(file, 'utf8'), /"grad_norm": NaN/, 'Python writes a bare NaN');

  const { messages, steps, result } = await collect(file);
  assert.equal(result.format, 'hf-trainer-state');
  assert.deepEqual(result.problems, []);
  const start = messages[0];
  assert.equal(start.type, 'run_start');
  assert.equal(start.type === 'run_start' && start.name, 'bert-finetune');
  assert.equal(start.type === 'run_start' && start.meta?.max_steps, 60);
  assert.deepEqual(
    steps.map((s) => s.step),
    [10, 20, 30, 40, 50, 60],
  );
  assert.ok(Number.isNaN(steps[1].total_norm));
  assert.equal(steps[3].total_norm, Infinity);
  assert.equal(steps[0].loss, 2.5);
  assert.equal(steps[0].lr, 5e-5);
  assert.deepEqual(messages.at(-1), { type: 'run_end', run_id: start.run_id, status: 'completed' });
  assert.match(result.notes.join('\n'), /NaN or infinite at 2 logged steps \(first at step 20\)/);
  assert.match(
    result.notes.join('\n'),
    /entries without grad_norm were left out: 1 evaluation, 1 other \(such as the final summary\)/,
  );

  // The NaN becomes a non-finite alert exactly as a live run's would.
  const run = new Run(start.run_id, DEFAULT_ALERT_SETTINGS, DEFAULT_SERIES_LIMITS, 0);
  const alerts = messages.flatMap((m) => (m.type === 'step' ? (run.step(m) ?? []) : []));
  assert.deepEqual(
    alerts.filter((a) => a.kind === 'nonfinite').map((a) => a.step),
    [20, 40],
  );
});

test('a checkpoint taken mid-run is named after its output folder and ends as interrupted', async () => {
  const file = path.join(dir, 'out', 'checkpoint-20', 'trainer_state.json');
  writeTrainerState(file, stateWith(20, 100, [train(10, 1), train(20, 1)]));
  const { messages } = await collect(file);
  assert.equal(messages[0].type === 'run_start' && messages[0].name, 'out/checkpoint-20');
  assert.deepEqual(messages.at(-1), {
    type: 'run_end',
    run_id: messages[0].run_id,
    status: 'interrupted',
    message: 'trainer state saved at step 20 of 100',
  });
});

test('a file cut short inside log_history keeps every entry before the cut and names its line', async () => {
  const whole = path.join(dir, 'whole.json');
  writeTrainerState(whole, stateWith(40, 40, [train(10, 1), train(20, 2), train(30, 3), train(40, 4)]));
  const text = readFileSync(whole, 'utf8');
  const cut = text.indexOf('"step": 30') + 4;
  const file = path.join(dir, 'crashed', 'trainer_state.json');
  mkdirSync(path.dirname(file));
  writeFileSync(file, text.slice(0, cut));

  const { messages, steps, result } = await collect(file);
  assert.deepEqual(
    steps.map((s) => s.step),
    [10, 20],
  );
  assert.equal(result.problems.length, 1);
  const problem = result.problems[0];
  assert.equal(problem.fatal, true);
  // The cut entry starts on the line of its opening brace.
  const braceLine = text.slice(0, text.lastIndexOf('{', cut)).split('\n').length;
  assert.equal(problem.line, braceLine);
  assert.match(problem.message, /ends inside "log_history".*2 steps before this line are kept/);
  assert.equal(
    messages.some((m) => m.type === 'run_end'),
    false,
    'an unreadable end says nothing about how the run ended',
  );
});

test('a bad entry is reported by line and the others are kept', async () => {
  const file = path.join(dir, 'bad-entry', 'trainer_state.json');
  writeTrainerState(
    file,
    stateWith(30, 30, [train(10, 1), `{"grad_norm": "high", "step": 20}`, `{"grad_norm": 1.0}`, train(30, 3)]),
  );
  const text = readFileSync(file, 'utf8');
  const { steps, result } = await collect(file);
  assert.deepEqual(
    steps.map((s) => s.step),
    [10, 30],
  );
  const lineOf = (needle: string): number =>
    text.slice(0, text.lastIndexOf('{', text.indexOf(needle))).split('\n').length;
  assert.deepEqual(
    result.problems.map((p) => [p.line, p.message]),
    [
      [lineOf('"high"'), 'grad_norm must be a number, got "high"'],
      [lineOf('"grad_norm": 1.0'), 'log_history entry with grad_norm has no valid "step" (got nothing)'],
    ],
  );
});

test('a JSON file that is not a trainer state, and one that is not JSON, get a clear fatal problem', async () => {
  const notState = path.join(dir, 'other', 'trainer_state.json');
  mkdirSync(path.dirname(notState));
  writeFileSync(notState, '{"hello": 1}\n');
  const a = await collect(notState);
  assert.deepEqual(a.messages, []);
  assert.deepEqual(a.result.problems, [
    { line: 1, message: 'no "log_history" array: this is not a Hugging Face trainer_state.json', fatal: true },
  ]);

  const notJson = path.join(dir, 'broken', 'trainer_state.json');
  mkdirSync(path.dirname(notJson));
  writeFileSync(notJson, '{\n  "global_step": 3,\n  oops\n}\n');
  const b = await collect(notJson);
  assert.equal(b.result.problems.length, 1);
  assert.equal(b.result.problems[0].fatal, true);
  assert.equal(b.result.problems[0].line, 3);
  assert.match(b.result.problems[0].message, /^not valid JSON/);
});

test('a trainer state without any grad_norm (old Transformers) imports its loss curve and says so', async () => {
  const file = path.join(dir, 'old', 'trainer_state.json');
  const oldTrain = (step: number, loss: number | string): string =>
    `{"epoch": ${step / 100}, "learning_rate": 1e-4, "loss": ${loss}, "step": ${step}}`;
  writeTrainerState(
    file,
    stateWith(30, 30, [oldTrain(10, 2.0), evalEntry(10), oldTrain(20, NAN), oldTrain(30, 1.5), summary(30)]),
  );
  const { messages, steps, result } = await collect(file);
  assert.deepEqual(result.problems, []);
  assert.equal(messages[0].type, 'run_start');
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm, s.loss, s.lr]),
    [
      [10, undefined, 2.0, 1e-4],
      [20, undefined, NaN, 1e-4],
      [30, undefined, 1.5, 1e-4],
    ],
  );
  assert.ok(
    steps.every((s) => !('total_norm' in s)),
    'not measured, not a norm of 0 or NaN',
  );
  assert.deepEqual(messages.at(-1), { type: 'run_end', run_id: steps[0].run_id, status: 'completed' });
  assert.deepEqual(result.notes, [
    'loss only: this trainer_state.json predates grad_norm logging (Transformers >= 4.38.0, huggingface/transformers#27326); ' +
      'its 3 training-loss entries (steps 10-30) are imported without gradient norms',
  ]);

  // The same run through the run store: loss drawn, no norm statistic, no alert.
  const run = new Run('r', DEFAULT_ALERT_SETTINGS, DEFAULT_SERIES_LIMITS, 0);
  for (const m of messages) run.apply(m);
  assert.equal(run.stepCount, 3);
  assert.equal(run.alertCount, 0);
  assert.equal(run.rules.nonFiniteCount, 0);
  assert.equal(run.lastTotal, undefined);
  assert.equal(run.series()!.measuredTotals().length, 0);
});

test('a trainer state with neither grad_norm nor a training loss makes no run and names the version', async () => {
  const file = path.join(dir, 'eval-only', 'trainer_state.json');
  writeTrainerState(file, stateWith(10, 10, [evalEntry(10), summary(10)]));
  const { messages, result } = await collect(file);
  assert.deepEqual(messages, []);
  assert.match(
    result.problems[0].message,
    /no log_history entry has a "grad_norm": Transformers logs it since v4\.38\.0/,
  );
});

test('a newer state keeps ignoring a loss entry without grad_norm (no loss-only steps among measured ones)', async () => {
  const file = path.join(dir, 'mixed', 'trainer_state.json');
  writeTrainerState(file, stateWith(20, 20, [`{"loss": 2.0, "learning_rate": 1e-4, "step": 10}`, train(20, 1.5)]));
  const { steps, result } = await collect(file);
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm]),
    [[20, 1.5]],
  );
  assert.match(result.notes.join('\n'), /left out: 1 training \(a loss without a norm\)/);
});
