/**
 * `gradient-monitor clip` and `check` as a user runs them: the built CLI in a subprocess, on copies
 * of the fixtures.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'python');

function copy(name: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-clip-cli-')), name);
  copyFileSync(path.join(FIXTURES, name), file);
  return file;
}

test('clip prints a unified diff, leaves the file alone and exits 0', async () => {
  const file = copy('amp_loop.py');
  const before = readFileSync(file, 'utf8');
  const r = await cli(['clip', file, '--max-norm', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^--- a\//);
  assert.match(r.stdout, /^\+ {12}scaler\.unscale_\(optimizer\)$/m);
  assert.match(r.stdout, /^\+ {12}torch\.nn\.utils\.clip_grad_norm_\(model\.parameters\(\), max_norm=0\.5\)$/m);
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('clip --write applies the edit; a second run finds clipping everywhere and exits 3, saying where', async () => {
  const file = copy('accumulation.py');
  const first = await cli(['clip', file, '--write']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, '');
  assert.match(
    readFileSync(file, 'utf8'),
    /if \(i \+ 1\) % ACCUM_STEPS == 0:\n {8}torch\.nn\.utils\.clip_grad_norm_\(\[p for group in optimizer\.param_groups for p in group\["params"\]\], max_norm=1\.0\)\n {8}optimizer\.step\(\)/,
  );
  const second = await cli(['clip', file, '--write']);
  assert.equal(second.code, 3);
  assert.match(
    second.stderr,
    /already clipped by torch\.nn\.utils\.clip_grad_norm_ at line 22: torch\.nn\.utils\.clip_grad_norm_/,
  );
});

test('clip --value writes value clipping', async () => {
  const file = copy('lightning_trainer.py');
  const r = await cli(['clip', file, '--value', '0.25', '--write']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    readFileSync(file, 'utf8'),
    /log_every_n_steps=5,\n {4}gradient_clip_val=0\.25,\n {4}gradient_clip_algorithm="value",\n\)/,
  );
});

test('clip --json lists the training loops and the proposed edits', async () => {
  const r = await cli(['clip', path.join(FIXTURES, 'several_loops.py'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.written, false);
  assert.deepEqual(
    out.loops.map((l: { optimizer: string; line: number }) => [l.optimizer, l.line]),
    [
      ['opt', 13],
      ['optimizer', 24],
      ['frozen_ok', 28],
      ['opt_d', 39],
      ['opt_g', 43],
    ],
  );
  const gan = out.loops[3];
  assert.equal(gan.parameters, 'discriminator.parameters()');
  assert.deepEqual(gan.edit.changes[0].start, { line: 39, column: 1 });
  assert.match(gan.edit.changes[0].text, /clip_grad_norm_\(discriminator\.parameters\(\), max_norm=1\.0\)/);
});

test('clip exits 4 when the file has no training step', async () => {
  const r = await cli(['clip', path.join(FIXTURES, 'no_training.py')]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /no training step found/);
});

test('clip exits 2 with line and column for a file that does not parse, and leaves it untouched', async () => {
  const file = copy('syntax_error.py');
  const before = readFileSync(file, 'utf8');
  const r = await cli(['clip', file, '--write']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /syntax_error\.py:4:1: syntax error: .*left untouched/);
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('clip keeps CRLF line endings', async () => {
  const file = copy('plain_loop.py');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
  const r = await cli(['clip', file, '--write']);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(file, 'utf8');
  assert.match(
    text,
    /loss\.backward\(\)\r\n {4}torch\.nn\.utils\.clip_grad_norm_\(model\.parameters\(\), max_norm=1\.0\)\r\n {4}optimizer\.step\(\)/,
  );
  assert.doesNotMatch(text, /[^\r]\n/);
});

test('clip rejects a non-positive max_norm', async () => {
  const r = await cli(['clip', path.join(FIXTURES, 'plain_loop.py'), '--max-norm', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /must be positive/);
});

test('check reports findings with locations and exits 1; a clean file exits 0', async () => {
  const bad = await cli(['check', path.join(FIXTURES, 'clip_after_step.py')]);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stdout,
    /clip_after_step\.py:12:5: warning: torch\.nn\.utils\.clip_grad_norm_ runs after optimizer\.step\(\) \(line 11\).*\[clip-after-step\]/,
  );
  const json = await cli(['check', path.join(FIXTURES, 'fsdp_plain_clip.py'), '--json']);
  assert.equal(json.code, 1);
  const findings = JSON.parse(json.stdout).findings;
  assert.deepEqual(
    findings.map((f: { code: string; line: number }) => [f.code, f.line]),
    [['fsdp-plain-clip', 11]],
  );
  assert.deepEqual(findings[0].fixes, ['Use model.clip_grad_norm_(max_norm, norm_type=2.0)']);
  const clean = await cli(['check', path.join(FIXTURES, 'plain_loop.py')]);
  assert.equal(clean.code, 0);
  assert.equal(clean.stdout, '');
});
