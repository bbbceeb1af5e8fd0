import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { composeNotice } from '../../src/alerts/notice';
import { NotificationGate } from '../../src/alerts/rateLimit';
import { Alert, DEFAULT_ALERT_SETTINGS, medianInPlace, RunAlerts } from '../../src/alerts/rules';

const healthy = (i: number): number => 1 + 0.1 * Math.sin(i);

describe('alert rules', () => {
  test('threshold fires once per breach episode and counts every step', () => {
    const r = new RunAlerts('r', { ...DEFAULT_ALERT_SETTINGS, threshold: 5 });
    const kinds: string[] = [];
    [1, 6, 7, 1, 8].forEach((v, step) =>
      r.observe({ step, total: v }).forEach((a) => a.kind === 'threshold' && kinds.push(`${a.step}`)),
    );
    assert.deepEqual(kinds, ['1', '4']);
    assert.equal(r.thresholdCount, 3);
    assert.equal(r.thresholdFirstStep, 1);
  });

  test("a run's own threshold overrides the setting", () => {
    const r = new RunAlerts('r', { ...DEFAULT_ALERT_SETTINGS, threshold: 5 });
    r.configure(100, undefined);
    assert.deepEqual(r.observe({ step: 0, total: 50 }), []);
  });

  test('NaN names the step and the first offending layers', () => {
    const r = new RunAlerts('r');
    r.configure(undefined, ['embed', 'attn', 'mlp', 'head']);
    r.observe({ step: 0, total: 1, layers: [1, 1, 1, 1] });
    const [a] = r.observe({ step: 1, total: NaN, layers: [1, Infinity, NaN, 1] });
    assert.equal(a.kind, 'nonfinite');
    assert.equal(a.severity, 'error');
    assert.deepEqual(a.layers, ['attn', 'mlp']);
    assert.match(a.message, /step 1 in "attn", "mlp"/);
    const named = new RunAlerts('q');
    named.configure(undefined, ['enc,0', 'dec']);
    const [quoted] = named.observe({ step: 3, total: NaN, layers: [NaN, NaN] });
    assert.match(quoted.message, /at step 3 in "enc,0", "dec"$/, 'a comma inside a name reads as one layer');
    assert.deepEqual(r.firstNonFinite, { step: 1, layers: ['attn', 'mlp'] });
    assert.deepEqual(r.observe({ step: 2, total: NaN }), [], 'one alert per episode');
  });

  test('a non-finite layer with a finite total is still an error', () => {
    const r = new RunAlerts('r');
    const alerts = r.observe({ step: 0, total: 1, layers: [NaN] });
    assert.equal(alerts[0].kind, 'nonfinite');
    assert.deepEqual(alerts[0].layers, ['layer 0']);
  });

  test('AMP skipped steps are not flagged as NaN', () => {
    const r = new RunAlerts('r');
    assert.deepEqual(r.observe({ step: 0, total: Infinity, skipped: true }), []);
    assert.equal(r.skippedCount, 1);
    assert.equal(r.firstNonFinite, null);
  });

  test('a spike far above the rolling median fires; noise does not', () => {
    const r = new RunAlerts('r', { ...DEFAULT_ALERT_SETTINGS, threshold: 1e9 });
    for (let i = 0; i < 200; i++) assert.deepEqual(r.observe({ step: i, total: healthy(i) }), [], `step ${i}`);
    const [a] = r.observe({ step: 200, total: 40 });
    assert.equal(a.kind, 'spike');
    assert.deepEqual(r.spikes, [200]);
    assert.deepEqual(r.observe({ step: 201, total: healthy(201) }), []);
  });

  test('no spike judgement during warm-up', () => {
    const r = new RunAlerts('r', { ...DEFAULT_ALERT_SETTINGS, threshold: 1e9 });
    for (let i = 0; i < 5; i++) r.observe({ step: i, total: 1 });
    assert.deepEqual(r.observe({ step: 5, total: 100 }), []);
  });

  test('vanishing fires after enough consecutive tiny norms', () => {
    const r = new RunAlerts('r', { ...DEFAULT_ALERT_SETTINGS, vanishingFloor: 1e-6, vanishingSteps: 3 });
    const fired = [1e-7, 1e-7, 1, 1e-7, 1e-7, 1e-7, 1e-7].flatMap((v, step) =>
      r
        .observe({ step, total: v })
        .filter((a) => a.kind === 'vanishing')
        .map((a) => a.step),
    );
    assert.deepEqual(fired, [5]);
  });
});

describe('rolling median', () => {
  test('quickselect median equals the median of the sorted values (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), {
          minLength: 1,
          maxLength: 300,
        }),
        (values) => {
          const sorted = [...values].sort((a, b) => a - b);
          const n = sorted.length;
          const expected = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
          assert.equal(medianInPlace(Float64Array.from(values)), expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('many equal values and runs of duplicates', () => {
    assert.equal(medianInPlace(new Float64Array(100).fill(3)), 3);
    assert.equal(medianInPlace(Float64Array.from({ length: 100 }, (_, i) => 1 + (i % 13) * 0.01)), 1.06);
    assert.ok(Number.isNaN(medianInPlace(new Float64Array(0))));
  });
});

describe('notification gate', () => {
  const alert = (run: string, kind: Alert['kind']): Alert => ({
    kind,
    severity: 'warning',
    run_id: run,
    step: 0,
    value: 0,
    message: '',
  });

  test('one notification per run and kind per interval, counting the held ones', () => {
    let now = 0;
    const gate = new NotificationGate(1000, () => now);
    assert.equal(gate.admit(alert('a', 'spike')), 0);
    assert.equal(gate.admit(alert('a', 'spike')), undefined);
    assert.equal(gate.admit(alert('a', 'threshold')), 0, 'other kinds are separate');
    assert.equal(gate.admit(alert('b', 'spike')), 0, 'other runs are separate');
    now = 1500;
    assert.equal(gate.admit(alert('a', 'spike')), 1);
  });

  test('muted runs never notify', () => {
    const gate = new NotificationGate(0);
    gate.mute('a');
    assert.equal(gate.admit(alert('a', 'nonfinite')), undefined);
  });
});

describe('notices', () => {
  const a = (kind: Alert['kind'], severity: Alert['severity'], message: string): Alert => ({
    kind,
    severity,
    run_id: 'r',
    step: 7,
    value: 1,
    message,
  });

  test("one step's alerts make one notice, errors first, with the held count", () => {
    const n = composeNotice('my run', [
      { alert: a('threshold', 'warning', 'norm 50 exceeds the threshold 10 at step 7'), held: 0 },
      { alert: a('nonfinite', 'error', 'non-finite gradient norm (NaN) at step 7 in fc'), held: 2 },
    ]);
    assert.equal(n.severity, 'error');
    assert.equal(
      n.text,
      'Gradient Monitor: my run: non-finite gradient norm (NaN) at step 7 in fc; norm 50 exceeds the threshold 10 at step 7 (2 similar alerts since the last notice)',
    );
  });

  test('a single warning stays a warning', () => {
    assert.deepEqual(composeNotice('r', [{ alert: a('spike', 'warning', 'spiked'), held: 0 }]), {
      severity: 'warning',
      text: 'Gradient Monitor: r: spiked',
    });
  });
});
