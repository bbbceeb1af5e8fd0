/**
 * TensorBoard events and Lightning CSVs written by the real libraries (see helpers/realLogWriters.ts)
 * import with exactly the steps and values each writer was given.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { RunStartMessage, StepMessage } from '../../src/protocol/messages';
import { collect, tempDir } from '../helpers/logFiles';
import { manifestNumber, RealLogs, writeRealLogs } from '../helpers/realLogWriters';

const out = tempDir('gm-real-writers-');
let logs: RealLogs;
before(() => {
  logs = writeRealLogs(out);
});

const f32 = Math.fround;

async function imported(
  source: string,
): Promise<{ start: RunStartMessage; steps: StepMessage[]; end: unknown; notes: string[] }> {
  const { messages, steps, result } = await collect(source);
  assert.deepEqual(result.problems, [], `${source} reads without problems`);
  assert.equal(messages[0].type, 'run_start');
  return { start: messages[0] as RunStartMessage, steps, end: messages.at(-1), notes: result.notes };
}

function seriesOf(scalars: [number, number | string][]): [number, number][] {
  return scalars.map(([s, v]) => [s, f32(manifestNumber(v))]);
}

test('torch.utils.tensorboard: total, per-layer norms, loss and lr per step, inf kept; the file and its folder read alike', async () => {
  const given = logs.torch.scalars;
  const folder = await imported(logs.torch.folder);
  assert.equal(folder.start.framework, 'pytorch');
  assert.deepEqual(folder.start.layers, ['encoder.0', 'head']);
  assert.deepEqual(
    folder.steps.map((s) => [s.step, s.total_norm]),
    seriesOf(given['train/grad_norm']),
  );
  assert.equal(folder.steps[7].total_norm, Infinity);
  const at = (tag: string): number[] => seriesOf(given[tag]).map(([, v]) => v);
  assert.deepEqual(
    folder.steps.map((s) => s.layer_norms),
    at('grad_norm/encoder.0').map((e, i) => [e, at('grad_norm/head')[i]]),
  );
  assert.deepEqual(
    folder.steps.map((s) => s.loss),
    at('train/loss'),
  );
  assert.deepEqual(
    folder.steps.map((s) => s.lr),
    at('train/lr'),
  );
  const [file] = readdirSync(logs.torch.folder);
  const single = await imported(path.join(logs.torch.folder, file));
  assert.deepEqual(
    single.steps,
    folder.steps.map((s) => ({ ...s, run_id: single.start.run_id })),
  );
});

test('a run folder with a restart reads as one run in step order, the restarted steps once with their later values', async () => {
  const run = await imported(logs.restart.folder);
  assert.equal(run.start.meta?.event_files, 2);
  assert.deepEqual(
    run.steps.map((s) => [s.step, s.total_norm]),
    seriesOf(logs.restart.grad_norm),
  );
  assert.equal(run.steps[5].total_norm, 105, 'step 5 was logged again after the restart');
  assert.deepEqual(run.end, { type: 'run_end', run_id: run.start.run_id, status: 'completed' });
});

test('tensorboardX: gradients/global_norm at every third step, with the loss', async () => {
  const run = await imported(logs.tensorboardx.folder);
  assert.equal(run.start.framework, 'pytorch');
  assert.deepEqual(
    run.steps.map((s) => [s.step, s.total_norm]),
    seriesOf(logs.tensorboardx.grad_norm),
  );
  assert.ok(run.steps.every((s) => s.loss !== undefined));
});

test('tf.summary (TF2 tensor scalars): total and a layer norm, NaN kept, loss and learning rate', async () => {
  const given = logs.tf2.scalars;
  const run = await imported(logs.tf2.folder);
  assert.equal(run.start.framework, 'tensorflow');
  assert.deepEqual(run.start.layers, ['dense']);
  const total = run.steps.map((s) => [s.step, s.total_norm]);
  assert.deepEqual(total, seriesOf(given['grad_norm']));
  assert.ok(Number.isNaN(run.steps[4].total_norm));
  assert.deepEqual(
    run.steps.map((s) => s.layer_norms?.[0]),
    seriesOf(given['grad_norm/dense']).map(([, v]) => v),
  );
  assert.deepEqual(
    run.steps.map((s) => s.loss),
    seriesOf(given['loss']).map(([, v]) => v),
  );
  assert.deepEqual(
    run.steps.map((s) => s.lr),
    seriesOf(given['learning_rate']).map(([, v]) => v),
  );
});

test('Keras TensorBoard callback: the logs folder (train/ and validation/) gives the per-batch norms the model returned', async () => {
  const run = await imported(logs.keras.folder);
  assert.equal(run.start.framework, 'tensorflow');
  assert.equal(run.start.meta?.total_tag, 'batch_grad_norm');
  assert.deepEqual(
    run.steps.map((s) => s.total_norm),
    logs.keras.grad_norm_values,
  );
  assert.deepEqual(
    run.steps.map((s) => s.step),
    logs.keras.grad_norm_values.map((_, i) => i + 1),
    'Keras counts batches from 1',
  );
  assert.ok(
    run.steps.every((s) => s.loss !== undefined && s.lr === undefined),
    'epoch_* tags count epochs, not steps',
  );
});

test('Lightning: TensorBoardLogger and CSVLogger of one run give the same steps, norms, loss and lr, validation rows left out', async () => {
  const given = logs.lightning.grad_norms;
  const tb = await imported(logs.lightning.tb_folder);
  const csv = await imported(logs.lightning.csv);
  for (const run of [tb, csv]) {
    assert.equal(run.start.framework, 'pytorch');
    assert.deepEqual(
      run.steps.map((s) => s.step),
      given.map((_, i) => i),
    );
    assert.deepEqual(
      run.steps.map((s) => s.total_norm),
      given.map((g) => g['grad_2.0_norm_total']),
    );
    const layers = run.start.layers ?? [];
    assert.deepEqual([...layers].sort(), ['net.0.bias', 'net.0.weight', 'net.2.bias', 'net.2.weight']);
    assert.deepEqual(
      run.steps.map((s) => s.layer_norms),
      given.map((g) => layers.map((l) => g[`grad_2.0_norm/${l}`])),
    );
    const lr = run === tb ? f32(logs.lightning.lr) : logs.lightning.lr; // TensorBoard stores float32
    assert.ok(run.steps.every((s) => s.lr === lr));
    assert.ok(run.steps.every((s) => typeof s.loss === 'number'));
    assert.deepEqual(run.end, { type: 'run_end', run_id: run.start.run_id, status: 'completed' });
  }
  assert.equal(csv.start.name, 'csv/version_0');
  assert.deepEqual(
    tb.steps.map((s) => s.loss),
    csv.steps.map((s) => s.loss),
  );
});
