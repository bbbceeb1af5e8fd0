/**
 * Golden tests over the corpus of training scripts in test/fixtures/python: the sites, checks and
 * every proposed edit are compared with test/fixtures/python/expected/<name>.txt (regenerate with
 * UPDATE_GOLDEN=1 after checking the diff). Every patched version must parse, with tree-sitter and
 * with CPython, and clipping twice proposes nothing new.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { PythonAnalysis } from '../../src/python/analyze';
import { planClipping } from '../../src/python/clipPlan';
import { PythonParser, pythonParser } from '../../src/python/parser';
import { fixtureReader, GOLDEN_MAX_NORM, goldenReport } from '../helpers/pythonGolden';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'python');
const EXPECTED = path.join(FIXTURES, 'expected');
const names = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.py'))
  .sort();

const readFile = fixtureReader(FIXTURES);
let parser: PythonParser;
before(async () => {
  parser = await pythonParser();
});

describe('golden reports of the training-script corpus', () => {
  const compiled: string[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'gm-golden-'));

  for (const name of names) {
    it(name, () => {
      const a = new PythonAnalysis(parser, readFileSync(path.join(FIXTURES, name), 'utf8'), { readFile });
      try {
        const { report, patched } = goldenReport(a, name, readFile);
        const expectedFile = path.join(EXPECTED, name.replace(/\.py$/, '.txt'));
        if (process.env.UPDATE_GOLDEN) {
          mkdirSync(EXPECTED, { recursive: true });
          writeFileSync(expectedFile, report);
        }
        assert.equal(report, readFileSync(expectedFile, 'utf8'));
        assert.doesNotMatch(report, /BREAKS PARSING/);
        for (const [section, text] of Object.entries(patched)) {
          assert.equal(parser.syntaxProblem(text), undefined, `${section} of ${name} parses`);
          const file = path.join(scratch, `${name.replace(/\.py$/, '')}__${section.replace(/\W+/g, '_')}.py`);
          writeFileSync(file, text);
          compiled.push(file);
        }
      } finally {
        a.dispose();
      }
    });
  }

  it('every patched script compiles with CPython', () => {
    assert.ok(compiled.length > 30, `only ${compiled.length} patched scripts`);
    execFileSync(
      '/usr/bin/python3',
      ['-c', 'import sys\nfor f in sys.argv[1:]: compile(open(f).read(), f, "exec")', ...compiled],
      { stdio: 'pipe' },
    );
  });
});

describe('clipping is idempotent', () => {
  for (const name of names) {
    it(name, () => {
      const a = new PythonAnalysis(parser, readFileSync(path.join(FIXTURES, name), 'utf8'), { readFile });
      const { patched, files } = planClipping(a, { maxNorm: GOLDEN_MAX_NORM });
      a.dispose();
      if (patched === undefined) return;
      // Files the fix edited (DeepSpeed JSON configs) are read as patched.
      const again = new PythonAnalysis(parser, patched, { readFile: (f) => files.get(f) ?? readFile(f) });
      try {
        const second = planClipping(again, { maxNorm: GOLDEN_MAX_NORM });
        assert.equal(second.patched, undefined, 'a second pass proposes nothing');
        assert.equal(second.outcome, 'already-clipped');
        assert.ok(
          again.sites.every((s) => !s.addNormClipping),
          'no site offers a duplicate',
        );
      } finally {
        again.dispose();
      }
    });
  }
});
