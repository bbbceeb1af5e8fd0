/**
 * Proof by execution over the corpus of training scripts and notebooks in test/fixtures/python:
 * each gets its quick fix (clipping added, a check's fix, max_norm retargeted), then RUNS with the
 * real framework from the venv (scripts/ensure-venv.sh) for a few steps on tiny data, with a probe
 * on every real update (test/python/clip_harness.py): after norm clipping the gradients' total
 * norm is <= max_norm, after value clipping every element is <= the value (relative tolerance
 * 1e-6; under AMP the probe sees the unscaled gradients), while the unpatched script exceeds it.
 * `check` findings of each script are compared with the expected list, and the fixed script has
 * none. DeepSpeed does not install here: its fixes are checked in the config they write.
 * One Python process per script (all its variants), two at a time. The FSDP scripts run together on
 * two ranks (gloo on the CPU), where FSDP1 really shards, and the probe checks the global norm on
 * every rank: at one rank FSDP1 falls back to NO_SHARD, where torch's plain clip is right too.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PythonAnalysis } from '../../src/python/analyze';
import { planClipping } from '../../src/python/clipPlan';
import { applyEdits } from '../../src/python/edits';
import type { CheckCode, Fix } from '../../src/python/model';
import { NotebookProgram, parseIpynb, patchIpynb } from '../../src/python/notebook';
import { PythonParser, pythonParser } from '../../src/python/parser';
import { fixtureReader } from '../helpers/pythonGolden';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'python');
const HARNESS = path.join(ROOT, 'test', 'python', 'clip_harness.py');
const CLIENT = path.join(ROOT, 'clients', 'python');
const MAX_NORM = 0.05;
const CLIP_VALUE = 0.01;
const TOLERANCE = 1e-6;

type Probe = 'torch' | 'keras' | 'optax';
/**
 * clip: the `clip` fix (norm, and value where `value`); check: every finding's fix; retarget: "Set
 * max_norm"; none: the script is correct as it is (its own clipping at `limit`).
 */
type Fixing = 'clip' | 'check' | 'retarget' | 'none';

interface Case {
  file: string;
  probe: Probe;
  fixing: Fixing;
  /** Codes `check` reports on the original, in order. */
  checks: CheckCode[];
  value?: boolean;
  /** The max_norm the script's own clipping uses (check, none). */
  limit?: number;
  /** Also run Gradient Monitor's "Add gradient monitoring here" version. */
  monitored?: boolean;
  /** Run as this many torch.distributed ranks (FSDP). */
  ranks?: number;
}

const CASES: Case[] = [
  // PyTorch loops: plain, AMP, accumulation, closure, tabs, several loops, inline step, a class, item() loops.
  { file: 'plain_loop.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'amp_loop.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'accumulation.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'amp_accumulation.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'lbfgs_closure.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'tabs.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'several_loops.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'inline_step.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  { file: 'trainer_class.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  { file: 'no_torch_import.py', probe: 'torch', fixing: 'clip', checks: [], value: true, monitored: true },
  {
    file: 'item_loop.py',
    probe: 'torch',
    fixing: 'clip',
    checks: ['per-parameter-sync'],
    value: true,
    monitored: true,
  },
  { file: 'conditional_optimizer.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  { file: 'split_functions.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  // Clipping in the wrong place, and its fixes.
  { file: 'clip_after_step.py', probe: 'torch', fixing: 'check', checks: ['clip-after-step'], limit: 1.0 },
  {
    file: 'accumulation_clip_every_micro.py',
    probe: 'torch',
    fixing: 'check',
    checks: ['clip-every-micro-batch'],
    limit: 1.0,
  },
  { file: 'amp_clip_scaled.py', probe: 'torch', fixing: 'check', checks: ['clip-scaled-gradients'], limit: 1.0 },
  {
    file: 'accumulation_conditional_clip.py',
    probe: 'torch',
    fixing: 'check',
    checks: ['clip-every-micro-batch'],
    limit: 1.0,
  },
  {
    file: 'amp_accumulation_clip_micro.py',
    probe: 'torch',
    fixing: 'check',
    checks: ['clip-scaled-gradients', 'clip-every-micro-batch'],
    limit: 1.0,
  },
  // Scripts that already clip: directly, through a helper, behind an `if` that is not accumulation.
  { file: 'already_clipped.py', probe: 'torch', fixing: 'retarget', checks: [] },
  { file: 'clip_helper_literal.py', probe: 'torch', fixing: 'retarget', checks: [] },
  { file: 'timm_dispatch_clip.py', probe: 'torch', fixing: 'none', checks: [], limit: 0.05 },
  { file: 'optional_optimizer.py', probe: 'torch', fixing: 'none', checks: [], limit: 1.0 },
  // FSDP (v1 FULL_SHARD and 2) on CPU with gloo, two ranks.
  { file: 'fsdp_model.py', probe: 'torch', fixing: 'clip', checks: [], ranks: 2 },
  { file: 'fsdp_build_optimizer.py', probe: 'torch', fixing: 'clip', checks: [], ranks: 2 },
  {
    file: 'fsdp_groups_plain_clip.py',
    probe: 'torch',
    fixing: 'check',
    checks: ['fsdp-plain-clip'],
    limit: 1.0,
    ranks: 2,
  },
  { file: 'fsdp2_fully_shard.py', probe: 'torch', fixing: 'clip', checks: [], value: true, ranks: 2 },
  // Accelerate, Lightning, Fabric, Hugging Face.
  { file: 'accelerate_conditional.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  { file: 'lightning_conditional_trainer.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  { file: 'fabric_loop.py', probe: 'torch', fixing: 'clip', checks: [], value: true },
  { file: 'hf_trainer_tiny.py', probe: 'torch', fixing: 'clip', checks: [] },
  // Keras, TensorFlow, optax.
  { file: 'keras_fit.py', probe: 'keras', fixing: 'clip', checks: [] },
  { file: 'tf_tape_loop.py', probe: 'keras', fixing: 'clip', checks: [] },
  { file: 'optax_loop.py', probe: 'optax', fixing: 'clip', checks: [] },
  // Notebooks: a model made in one cell and trained in another, magics, AMP accumulation, Keras.
  { file: 'notebooks/plain_loop.ipynb', probe: 'torch', fixing: 'clip', checks: [], value: true },
  {
    file: 'notebooks/amp_accumulation.ipynb',
    probe: 'torch',
    fixing: 'check',
    checks: ['clip-scaled-gradients', 'clip-every-micro-batch'],
    limit: 1.0,
  },
  { file: 'notebooks/keras_fit.ipynb', probe: 'keras', fixing: 'clip', checks: [] },
];

/** A script or notebook, analysed as one program; `write` turns a patched program back into the file's text. */
interface Source {
  a: PythonAnalysis;
  write(fixes: readonly Fix[]): string;
}

/** What the probe saw at one update; under ranks, the global norm as seen by `rank`. */
interface Update {
  total: number;
  largest: number;
  rank?: number;
  /** The total that the last torch.nn.utils.clip_grad_norm_ before this update returned. */
  clipped?: number | null;
}
type Results = Record<string, { updates: Update[]; error?: string }>;

const scratch = mkdtempSync(path.join(tmpdir(), 'gm-clip-exec-'));
const readFixture = fixtureReader(FIXTURES);
/** Staged files by `variant/name`, grouped by probe and original script (one process each), or by ranks. */
const staged = new Map<string, { probe: Probe; file: string; case: string; ranks: number }>();
/** Findings of each fixed script, by `variant/name`. */
const fixedFindings = new Map<string, CheckCode[]>();
const originalFindings = new Map<string, CheckCode[]>();
const results: Results = {};
let parser: PythonParser;

function open(file: string, text = readFileSync(path.join(FIXTURES, file), 'utf8')): Source {
  if (!file.endsWith('.ipynb')) {
    const a = new PythonAnalysis(parser, text, { readFile: readFixture });
    return { a, write: (fixes) => a.apply(fixes) };
  }
  const notebook = new NotebookProgram(parseIpynb(text));
  const a = new PythonAnalysis(parser, notebook.source, { place: (o) => notebook.where(o).text });
  return { a, write: (fixes) => patchIpynb(text, notebook.patchedCells(a.editsFor(fixes))) };
}

function stage(variant: string, c: Case, text: string, fixed = true): void {
  const dir = path.join(scratch, variant, path.dirname(c.file));
  mkdirSync(dir, { recursive: true });
  const file = path.join(scratch, variant, c.file);
  writeFileSync(file, text);
  staged.set(`${variant}/${c.file}`, { probe: c.probe, file, case: c.file, ranks: c.ranks ?? 1 });
  if (fixed) {
    const again = open(c.file, text);
    fixedFindings.set(
      `${variant}/${c.file}`,
      again.a.checks.map((x) => x.code),
    );
    again.a.dispose();
  }
}

function updates(key: string): Update[] {
  const s = staged.get(key);
  assert.ok(s, `${key} was staged`);
  const r = results[s.file];
  assert.ok(r, `${key} was run`);
  assert.equal(r.error, undefined, `${key} raised:\n${r.error}`);
  assert.ok(r.updates.length > 0, `${key} made at least one update`);
  const perRank = Array.from({ length: s.ranks }, (_, rank) => r.updates.filter((u) => (u.rank ?? 0) === rank).length);
  assert.ok(
    perRank.every((n) => n === perRank[0]),
    `${key}: every rank made the same updates (${perRank.join(', ')})`,
  );
  return r.updates;
}

function prepare(c: Case): void {
  const src = open(c.file);
  const { a } = src;
  try {
    originalFindings.set(
      c.file,
      a.checks.map((x) => x.code),
    );
    stage('original', c, src.write([]), false);
    if (c.fixing === 'clip') {
      const norm = planClipping(a, { maxNorm: MAX_NORM });
      assert.equal(norm.outcome, 'proposed', `${c.file}: ${norm.outcome}`);
      stage('norm', c, src.write(norm.proposals.flatMap((p) => (p.fix ? [p.fix] : []))));
      if (c.value) {
        const value = planClipping(a, { maxNorm: MAX_NORM, clipValue: CLIP_VALUE });
        stage('value', c, src.write(value.proposals.flatMap((p) => (p.fix ? [p.fix] : []))));
      }
      const monitoring = c.monitored
        ? a.sites.map((site) => a.safe(site.addMonitoring?.())).find((f) => f !== undefined)
        : undefined;
      if (monitoring) stage('monitored', c, src.write([monitoring]), false);
    } else if (c.fixing === 'check') {
      stage('checked', c, src.write(a.checks.flatMap((x) => (x.fixes[0] ? [x.fixes[0]] : []))));
    } else if (c.fixing === 'retarget') {
      const fix = a.sites.map((s) => s.setMaxNorm?.(MAX_NORM)).find((f) => f !== undefined);
      assert.ok(fix, `${c.file} offers Set max_norm`);
      stage('retargeted', c, src.write([fix]));
    }
  } finally {
    a.dispose();
  }
}

/**
 * Runs each original script's variants in one Python process, two processes at a time; scripts for
 * several ranks all in one set of rank processes (one torch import per rank).
 */
async function runAll(python: string): Promise<void> {
  const groups = new Map<string, { probe: Probe; ranks: number; files: string[] }>();
  for (const s of staged.values()) {
    const name = s.ranks > 1 ? `ranks-${s.ranks}` : s.case;
    const g = groups.get(name) ?? { probe: s.probe, ranks: s.ranks, files: [] };
    g.files.push(s.file);
    groups.set(name, g);
  }
  const env = {
    ...process.env,
    PYTHONPATH: CLIENT,
    GRADIENT_MONITOR_URL: '',
    GRADIENT_MONITOR_TOKEN: '',
    GRADIENT_MONITOR_HOME: path.join(scratch, 'home'),
    TF_CPP_MIN_LOG_LEVEL: '3',
    HF_HUB_OFFLINE: '1',
    TOKENIZERS_PARALLELISM: 'false',
    OMP_NUM_THREADS: '1',
    CUDA_VISIBLE_DEVICES: '',
  };
  const queue = [...groups.entries()];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [name, g] = next;
      const out = path.join(scratch, `${name.replace(/\W+/g, '_')}.json`);
      try {
        await promisify(execFile)(python, [HARNESS, '--probe', g.probe, '--ranks', String(g.ranks), out, ...g.files], {
          cwd: scratch,
          timeout: 180_000,
          env,
          maxBuffer: 16 * 1024 * 1024,
        });
        Object.assign(results, JSON.parse(readFileSync(out, 'utf8')) as Results);
      } catch (e) {
        for (const f of g.files) results[f] = { updates: [], error: `harness failed: ${(e as Error).message}` };
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

before(async () => {
  parser = await pythonParser();
  for (const c of CASES) prepare(c);
  const python = execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-venv.sh')], { encoding: 'utf8' }).trim();
  await runAll(python);
});

after(() => rmSync(scratch, { recursive: true, force: true }));

describe('check findings of the corpus', () => {
  for (const c of CASES) {
    it(`${c.file}: ${c.checks.join(', ') || 'no finding'}`, () => {
      assert.deepEqual(originalFindings.get(c.file), c.checks);
      // A fixed script has no finding left about its clipping; what clipping does not fix (per-parameter syncs) stays.
      const unrelated = c.checks.filter((x) => x === 'per-parameter-sync');
      for (const [key, codes] of fixedFindings)
        if (key.endsWith(`/${c.file}`)) assert.deepEqual(codes, unrelated, `${key}: findings once fixed`);
    });
  }
});

describe('fixed scripts run with the real frameworks and clip', () => {
  for (const c of CASES) {
    if (c.fixing === 'clip') {
      it(`${c.file}: every update within max_norm=${MAX_NORM}`, () => {
        const before = Math.max(...updates(`original/${c.file}`).map((u) => u.total));
        assert.ok(before > MAX_NORM, `the original exceeds max_norm (max ${before}), so the check means something`);
        for (const u of updates(`norm/${c.file}`))
          assert.ok(u.total <= MAX_NORM * (1 + TOLERANCE), `update with total norm ${u.total}`);
      });
      if (c.value)
        it(`${c.file}: every gradient within ${CLIP_VALUE}`, () => {
          assert.ok(Math.max(...updates(`original/${c.file}`).map((u) => u.largest)) > CLIP_VALUE);
          for (const u of updates(`value/${c.file}`))
            assert.ok(u.largest <= CLIP_VALUE * (1 + TOLERANCE), `largest gradient ${u.largest}`);
        });
    } else if (c.fixing === 'check') {
      it(`${c.file}: the check's fix makes clipping hold (max_norm=${c.limit})`, () => {
        for (const u of updates(`checked/${c.file}`))
          assert.ok(u.total <= c.limit! * (1 + TOLERANCE), `update with total norm ${u.total}`);
      });
    } else if (c.fixing === 'retarget') {
      it(`${c.file}: "Set max_norm" retargets the existing clipping`, () => {
        for (const u of updates(`retargeted/${c.file}`)) assert.ok(u.total <= MAX_NORM * (1 + TOLERANCE));
      });
    } else {
      it(`${c.file}: the script's own clipping holds (max_norm=${c.limit})`, () => {
        for (const u of updates(`original/${c.file}`))
          assert.ok(u.total <= c.limit! * (1 + TOLERANCE), `update with total norm ${u.total}`);
      });
    }
  }
  it('clipping after the step lets unclipped gradients through (the bug the check reports)', () => {
    assert.ok(Math.max(...updates('original/clip_after_step.py').map((u) => u.total)) > 1.0);
  });
  it("torch's clip of a sharded FSDP1 module sees one shard per rank: totals differ, the global norm exceeds max_norm", () => {
    const original = updates('original/fsdp_groups_plain_clip.py');
    const onRank = (rank: number): Update[] => original.filter((u) => u.rank === rank);
    for (const rank of [0, 1])
      assert.ok(
        onRank(rank).some((u) => u.total > 1.0 * (1 + TOLERANCE)),
        `rank ${rank} sees a global norm over 1.0: ${onRank(rank).map((u) => u.total)}`,
      );
    const [zero, one] = [onRank(0), onRank(1)].map((us) => us.map((u) => u.clipped));
    assert.ok(
      zero.every((t, i) => typeof t === 'number' && t !== one[i]),
      `the clip's totals differ per rank: ${zero} vs ${one}`,
    );
  });
});

describe('DeepSpeed: the fix writes "gradient_clipping" into the config the engine reads', () => {
  const configOf = (file: string): { patched: string; files: Map<string, string>; findings: CheckCode[] } => {
    const { a } = open(file);
    try {
      const plan = planClipping(a, { maxNorm: MAX_NORM });
      assert.equal(plan.outcome, 'proposed');
      return { patched: plan.patched!, files: plan.files, findings: a.checks.map((c) => c.code) };
    } finally {
      a.dispose();
    }
  };
  const pythonValue = (code: string): unknown =>
    JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' }));

  it('a dict literal in the script gets the key, and Python reads it', () => {
    const { patched, findings } = configOf('deepspeed_dict.py');
    assert.deepEqual(findings, []);
    const dict = /ds_config = (\{[\s\S]*?\n\})/.exec(patched)![1];
    const config = pythonValue(`import json; print(json.dumps(${dict}))`) as Record<string, unknown>;
    assert.equal(config.gradient_clipping, MAX_NORM);
    assert.equal(config.train_batch_size, 8);
  });

  it('the JSON file named by --deepspeed_config gets the key, the rest of the file unchanged', () => {
    const { patched, files } = configOf('deepspeed_json.py');
    assert.equal(patched, readFixture('deepspeed_json.py'), 'the script itself is not edited');
    const before = readFixture('ds_config.json')!;
    const after = files.get('ds_config.json')!;
    const parsed = JSON.parse(after) as Record<string, unknown>;
    assert.equal(parsed.gradient_clipping, MAX_NORM);
    assert.deepEqual(
      { ...parsed, gradient_clipping: undefined },
      { ...JSON.parse(before), gradient_clipping: undefined },
    );
    // Formatting kept: every original line is still there, in order, with its indentation.
    const lines = after.split('\n');
    let i = 0;
    for (const line of before.split('\n')) {
      while (i < lines.length && lines[i].replace(/,$/, '') !== line.replace(/,$/, '')) i++;
      assert.ok(i < lines.length, `line kept: ${line}`);
    }
    assert.match(after, /\n {4}"gradient_clipping": 0\.05\n\}/);
  });

  it('a torch clip of the engine is reported; its fix removes it and writes the config', () => {
    const { a } = open('deepspeed_manual_clip.py');
    try {
      assert.deepEqual(
        a.checks.map((c) => c.code),
        ['deepspeed-manual-clip'],
      );
      const fixed = applyEdits(a.source, a.editsFor([a.checks[0].fixes[0]]));
      assert.doesNotMatch(fixed, /clip_grad_norm_/);
      assert.match(fixed, /"gradient_clipping": 1\.0/);
    } finally {
      a.dispose();
    }
  });
});

describe('"Add gradient monitoring here" produces scripts that run with the real Python client', () => {
  it('every monitored script runs and records its steps', () => {
    const monitored = [...staged.keys()].filter((k) => k.startsWith('monitored/'));
    assert.ok(monitored.length >= 8, `monitored: ${monitored.join(', ')}`);
    for (const key of monitored) updates(key);
    const logs = readdirSync(path.join(scratch, 'monitored', '.gradient-monitor', 'runs'));
    for (const key of monitored) {
      const name = path.basename(key, '.py');
      const log = logs.find((f) => f.startsWith(`${name}-`));
      assert.ok(log, `a run log for ${name} in ${logs.join(', ')}`);
      const steps = readFileSync(path.join(scratch, 'monitored', '.gradient-monitor', 'runs', log), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"step"'));
      assert.ok(steps.length > 0, `${name} reported steps`);
    }
  });
});
