/**
 * Every patched PyTorch fixture still runs with real torch (CPU, a few steps), and the clipping the
 * analysis inserted takes effect: at every real update the gradients respect max_norm (or the clip
 * value), while the unpatched script exceeds it. Check fixes are held to the same standard.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { PythonAnalysis } from '../../src/python/analyze';
import { planClipping } from '../../src/python/clipPlan';
import { pythonParser } from '../../src/python/parser';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'python');
const HARNESS = path.join(__dirname, '..', 'python', 'clip_harness.py');
const CLIENT = path.join(__dirname, '..', '..', 'clients', 'python');
const MAX_NORM = 0.05;
const CLIP_VALUE = 0.01;
/** Slack for float32 rounding in the norm the harness recomputes. */
const TOLERANCE = 1e-4;

/** Fixtures that run on CPU with the torch on this machine (Debian's 1.13: no FSDP import, no Accelerate/Lightning). */
const RUNNABLE = [
  'plain_loop',
  'amp_loop',
  'accumulation',
  'amp_accumulation',
  'lbfgs_closure',
  'tabs',
  'several_loops',
  'inline_step',
  'trainer_class',
  'no_torch_import',
  'item_loop',
];
/** Fixtures whose clipping sits in the wrong place, with the max_norm they use. */
const MISPLACED: Record<string, number> = {
  clip_after_step: 1.0,
  accumulation_clip_every_micro: 1.0,
  amp_clip_scaled: 1.0,
};

interface Update {
  total: number;
  largest: number;
}
type Results = Record<string, { updates: Update[]; error?: string }>;

const scratch = mkdtempSync(path.join(tmpdir(), 'gm-clip-exec-'));
const scripts: Record<string, string> = {};
let results: Results;

function stage(variant: string, name: string, text: string): void {
  mkdirSync(path.join(scratch, variant), { recursive: true });
  const file = path.join(scratch, variant, `${name}.py`);
  writeFileSync(file, text);
  scripts[`${variant}/${name}`] = file;
}

function updates(key: string): Update[] {
  const r = results[scripts[key]];
  assert.ok(r, `${key} was run`);
  assert.equal(r.error, undefined, `${key} raised:\n${r.error}`);
  assert.ok(r.updates.length > 0, `${key} made at least one update`);
  return r.updates;
}

before(async () => {
  const parser = await pythonParser();
  const withAnalysis = (name: string, use: (a: PythonAnalysis) => void): void => {
    const a = new PythonAnalysis(parser, readFileSync(path.join(FIXTURES, `${name}.py`), 'utf8'));
    try {
      use(a);
    } finally {
      a.dispose();
    }
  };
  for (const name of RUNNABLE) {
    withAnalysis(name, (a) => {
      stage('original', name, a.source);
      const norm = planClipping(a, { maxNorm: MAX_NORM });
      const value = planClipping(a, { maxNorm: MAX_NORM, clipValue: CLIP_VALUE });
      assert.ok(norm.patched && value.patched, `${name} gets clipping`);
      stage('norm', name, norm.patched);
      stage('value', name, value.patched);
      const monitoring = a.sites.map((site) => a.safe(site.addMonitoring?.())).find((f) => f !== undefined);
      if (monitoring) stage('monitored', name, a.apply([monitoring]));
    });
  }
  for (const name of Object.keys(MISPLACED)) {
    withAnalysis(name, (a) => {
      stage('original', name, a.source);
      assert.ok(a.checks.length > 0, `${name} has a finding`);
      stage('checked', name, a.apply(a.checks.map((c) => c.fixes[0])));
    });
  }
  withAnalysis('already_clipped', (a) => {
    const fix = a.sites[0].setMaxNorm?.(MAX_NORM);
    assert.ok(fix);
    stage('retargeted', 'already_clipped', a.apply([fix]));
  });
  const out = path.join(scratch, 'results.json');
  // Monitored scripts import the Python client from the repository and, with no endpoint, log locally under cwd.
  const env = {
    ...process.env,
    PYTHONPATH: CLIENT,
    GRADIENT_MONITOR_URL: '',
    GRADIENT_MONITOR_TOKEN: '',
    GRADIENT_MONITOR_HOME: path.join(scratch, 'home'),
  };
  await promisify(execFile)('/usr/bin/python3', [HARNESS, out, ...Object.values(scripts)], {
    cwd: scratch,
    timeout: 120_000,
    env,
  });
  results = JSON.parse(readFileSync(out, 'utf8')) as Results;
});

describe('patched PyTorch scripts run and clip', () => {
  for (const name of RUNNABLE) {
    it(`${name}: norm clipping holds every update to max_norm=${MAX_NORM}`, () => {
      const before = Math.max(...updates(`original/${name}`).map((u) => u.total));
      assert.ok(before > MAX_NORM, `the original exceeds max_norm (max ${before}), so the check means something`);
      for (const u of updates(`norm/${name}`))
        assert.ok(u.total <= MAX_NORM * (1 + TOLERANCE), `update with total norm ${u.total}`);
    });
    it(`${name}: value clipping holds every gradient to ${CLIP_VALUE}`, () => {
      const before = Math.max(...updates(`original/${name}`).map((u) => u.largest));
      assert.ok(before > CLIP_VALUE);
      for (const u of updates(`value/${name}`))
        assert.ok(u.largest <= CLIP_VALUE * (1 + TOLERANCE), `largest gradient ${u.largest}`);
    });
  }
});

describe('check fixes make misplaced clipping work', () => {
  for (const [name, maxNorm] of Object.entries(MISPLACED)) {
    it(name, () => {
      for (const u of updates(`checked/${name}`))
        assert.ok(u.total <= maxNorm * (1 + TOLERANCE), `update with total norm ${u.total}`);
    });
  }
  it('clipping after the step lets unclipped gradients through (the bug the check reports)', () => {
    assert.ok(Math.max(...updates('original/clip_after_step').map((u) => u.total)) > MISPLACED.clip_after_step);
  });
  it('"Set max_norm" retargets existing clipping', () => {
    for (const u of updates('retargeted/already_clipped')) assert.ok(u.total <= MAX_NORM * (1 + TOLERANCE));
  });
});

describe('"Add gradient monitoring here" produces scripts that run with the real Python client', () => {
  it('every monitored script runs and records its steps', () => {
    const monitored = Object.keys(scripts).filter((k) => k.startsWith('monitored/'));
    assert.ok(monitored.length >= 8, `monitored: ${monitored.join(', ')}`);
    for (const key of monitored) updates(key);
    const logs = readdirSync(path.join(scratch, '.gradient-monitor', 'runs'));
    for (const key of monitored) {
      const name = key.slice('monitored/'.length);
      const log = logs.find((f) => f.startsWith(`${name}-`));
      assert.ok(log, `a run log for ${name} in ${logs.join(', ')}`);
      const steps = readFileSync(path.join(scratch, '.gradient-monitor', 'runs', log), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"step"'));
      assert.ok(steps.length > 0, `${name} reported steps`);
    }
  });
});
