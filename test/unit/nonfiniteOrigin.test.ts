/**
 * step.nonfinite_origin end to end through the pure modules: validation, the alert text, the
 * diagnostic on the model's source line, the dashboard marker label, the run summary and inspect.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { RunAlerts } from '../../src/alerts/rules';
import { alertMarkers, runHeader } from '../../src/dashboard/rows';
import { summarizeLog } from '../../src/runs/summary';
import { decodeFrame, validateMessage } from '../../src/protocol/validate';
import { RunStore } from '../../src/runs/runStore';
import { ScriptDiagnostics } from '../../src/runs/scriptLink';
import { NonfiniteOrigin, originLabel } from '../../src/shared/nonfiniteOrigin';
import { LOG_GATE_ORIGIN } from '../helpers/exampleOrigin';

const ORIGIN = {
  phase: 'forward',
  module: 'blocks.2.gate',
  class: 'LogGate',
  file: 'model.py',
  line: 10,
  value: 'NaN',
  input_min: -0.5,
  input_max: 'Infinity',
};
const step = (origin: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'step',
  run_id: 'r',
  step: 7,
  total_norm: NaN,
  nonfinite_origin: origin,
  ...extra,
});

describe('step.nonfinite_origin validation', () => {
  test('a good origin validates, with non-finite numbers and unknown fields dropped', () => {
    const { messages, errors } = decodeFrame(
      JSON.stringify(step({ ...ORIGIN, future_field: 1 }, { skipped: true, skip_reason: 'nonfinite' })).replace(
        'null',
        'NaN',
      ),
    );
    assert.deepEqual(errors, []);
    const m = messages[0];
    assert.ok(m.type === 'step');
    assert.equal(m.skip_reason, 'nonfinite');
    const o = m.nonfinite_origin!;
    assert.deepEqual({ ...o, value: String(o.value) }, { ...ORIGIN, value: 'NaN', input_max: Infinity });
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'blocks.2', /step\.nonfinite_origin must be an object, got the string "blocks\.2"/],
    ['an array', [ORIGIN], /must be an object, got an array/],
    ['no phase', { module: 'x' }, /step\.nonfinite_origin\.phase must be one of input, forward, backward/],
    ['an unknown phase', { phase: 'sideways' }, /phase must be one of .* got the string "sideways"/],
    [
      'a numeric module',
      { phase: 'forward', module: 3 },
      /step\.nonfinite_origin\.module must be a string, got number 3/,
    ],
    ['line 0', { phase: 'forward', line: 0 }, /step\.nonfinite_origin\.line must be an integer >= 1, got number 0/],
    ['a fractional line', { phase: 'forward', line: 2.5 }, /line must be an integer >= 1/],
    ['a text range', { phase: 'forward', input_min: 'low' }, /step\.nonfinite_origin\.input_min must be a number/],
  ];
  for (const [what, origin, error] of bad)
    test(`${what} refuses the step with a clear error`, () => {
      const r = validateMessage(step(origin));
      assert.ok('error' in r);
      assert.match(r.error, error);
    });

  test('skip_reason must be a string', () => {
    const r = validateMessage(step(undefined, { skip_reason: 5 }));
    assert.ok('error' in r && /step\.skip_reason must be a string/.test(r.error));
  });
});

const origin = (o: Partial<NonfiniteOrigin> = {}): NonfiniteOrigin => ({ ...LOG_GATE_ORIGIN, ...o });

describe('labels', () => {
  test('the dashboard wording for each phase', () => {
    assert.equal(originLabel(origin()), 'NaN born in blocks.2.gate, LogGate.forward, model.py:10');
    assert.equal(
      originLabel(origin({ phase: 'backward', value: Infinity, file: '/abs/src/nets/dist.py' })),
      'Inf born in backward in blocks.2.gate, LogGate.forward, dist.py:10',
    );
    assert.equal(
      originLabel(origin({ phase: 'input', module: '', class: 'Net', line: 30 })),
      'NaN/Inf already in the input batch of Net.forward, model.py:30',
    );
    assert.equal(
      originLabel({ phase: 'gradient', leaf: 'params/Dense_0/kernel' }),
      'first non-finite gradient: params/Dense_0/kernel',
    );
    assert.match(originLabel({ phase: 'loss' }), /born in the loss/);
  });
});

describe('alerts', () => {
  test('the NaN alert names the origin; a guard-skipped step still alerts and says the weights were kept', () => {
    const r = new RunAlerts('r');
    r.configure(undefined, ['embed', 'head']);
    const [a] = r.observe({
      step: 4,
      total: NaN,
      layers: [NaN, NaN],
      skipped: true,
      skipReason: 'nonfinite',
      origin: origin(),
    });
    assert.equal(
      a.message,
      'non-finite gradient norm (NaN) at step 4 in "embed", "head"; NaN born in blocks.2.gate, LogGate.forward, model.py:10; the optimizer step was skipped, the weights kept',
    );
    assert.deepEqual(a.origin, origin());
    assert.deepEqual(r.firstNonFinite, { step: 4, layers: ['embed', 'head'], origin: origin() });
    assert.equal(r.skippedCount, 1);
  });

  test('JAX and TensorFlow runs get their framework switch in the alert', () => {
    const jax = new RunAlerts('j');
    jax.configure(undefined, undefined, 'jax');
    const [a] = jax.observe({ step: 0, total: NaN, origin: { phase: 'gradient', leaf: 'params/Dense_0/kernel' } });
    assert.match(
      a.message,
      /first non-finite gradient: params\/Dense_0\/kernel; jax\.config\.update\('jax_debug_nans', True\)/,
    );
    const tf = new RunAlerts('t');
    tf.configure(undefined, undefined, 'tensorflow');
    assert.match(tf.observe({ step: 0, total: NaN })[0].message, /tf\.debugging\.enable_check_numerics\(\)/);
  });
});

describe('where it shows', () => {
  const live = () => {
    const store = new RunStore();
    const run = store.getOrCreate('r');
    run.start({
      type: 'run_start',
      run_id: 'r',
      name: 'gate run',
      framework: 'pytorch',
      meta: { script: '/work/p/train.py', line: 40, cwd: '/work/p' },
    });
    return run;
  };

  test('a diagnostic lands on the model source line, resolved under the run cwd, once per run', () => {
    const run = live();
    const [alert] = run.step({ type: 'step', run_id: 'r', step: 3, total_norm: NaN, nonfinite_origin: origin() })!;
    const links = new ScriptDiagnostics();
    assert.equal(links.onAlert(alert, run), '/work/p/train.py');
    assert.equal(links.onOrigin(alert, run), '/work/p/model.py');
    const [d] = links.forDocument('/work/p/model.py');
    assert.equal(d.line, 9);
    assert.equal(d.severity, 'error');
    assert.equal(
      d.message,
      'Gradient Monitor, run gate run: NaN born in blocks.2.gate, LogGate.forward, model.py:10 (step 3)',
    );
    assert.equal(links.forDocument('/work/p/train.py').length, 1, 'the training script keeps its own');
    const again = { ...alert, step: 9, origin: origin({ line: 99 }) };
    assert.equal(links.onOrigin(again, run), undefined, 'the first origin is the one to fix');
    assert.equal(links.onOrigin({ ...alert, origin: undefined }, run), undefined);
    run.end({ type: 'run_end', run_id: 'r', status: 'failed' });
    assert.deepEqual(links.onRun(run).sort(), ['/work/p/model.py', '/work/p/train.py']);
  });

  test('the dashboard gets the marker label and the header the first origin', () => {
    const run = live();
    run.step({ type: 'step', run_id: 'r', step: 3, total_norm: NaN, nonfinite_origin: origin() });
    const [marker] = alertMarkers(run.alerts);
    assert.equal(marker.origin, 'NaN born in blocks.2.gate, LogGate.forward, model.py:10');
    assert.deepEqual(runHeader(run).firstNonFinite, {
      step: 3,
      layers: [],
      origin: 'NaN born in blocks.2.gate, LogGate.forward, model.py:10',
    });
  });

  test('inspect summarises the first origin from a recorded log', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gm-origin-'));
    const file = path.join(dir, 'run.jsonl');
    const lines = [
      { type: 'run_start', run_id: 'r', framework: 'pytorch' },
      { type: 'step', run_id: 'r', step: 0, total_norm: 1 },
      {
        type: 'step',
        run_id: 'r',
        step: 1,
        total_norm: 'NaN',
        nonfinite_origin: { ...ORIGIN, snapshot: '/s/step-1.pt' },
      },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const s = await summarizeLog(file);
    assert.equal(s.first_nonfinite?.step, 1);
    assert.equal(s.first_nonfinite?.origin?.module, 'blocks.2.gate');
    assert.equal(s.first_nonfinite?.origin?.snapshot, '/s/step-1.pt');
  });
});
