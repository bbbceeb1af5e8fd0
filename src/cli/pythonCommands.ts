/**
 * `gradient-monitor clip` and `gradient-monitor check`: the editor's clipping quick fixes and
 * training-loop checks on the command line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { PythonAnalysis } from '../python/analyze';
import { ClipPlan, planClipping, unifiedDiff } from '../python/clipPlan';
import type { Fix, TrainingSite } from '../python/model';
import { pythonParser } from '../python/parser';
import { numberOption, UsageError } from './args';

type Out = (line: string) => void;

const EXIT: Record<ClipPlan['outcome'], number> = {
  proposed: 0,
  'already-clipped': 3,
  'no-training-step': 4,
  'cannot-place': 1,
};
const DOES_NOT_PARSE = 2;

async function load(file: string): Promise<PythonAnalysis> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return new PythonAnalysis(await pythonParser(), source);
}

function siteJson(a: PythonAnalysis, site: TrainingSite, fix: Fix | undefined): Record<string, unknown> {
  return {
    framework: site.framework,
    line: site.line + 1,
    summary: site.summary,
    ...site.details,
    clipping: site.clipping ? { ...site.clipping, line: site.clipping.line + 1 } : null,
    note: site.note ?? null,
    cannot_fix: site.cannotFix ?? null,
    edit: fix
      ? {
          title: fix.title,
          imports: fix.imports.map((i) => i.line),
          changes: fix.edits.map((e) => ({ start: a.where(e.start), end: a.where(e.end), text: e.text })),
        }
      : null,
  };
}

export async function clipCommand(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'max-norm': { type: 'string' },
      value: { type: 'string' },
      write: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('clip takes exactly one Python file');
  const file = positionals[0];
  const maxNorm = numberOption(values['max-norm'], 'max-norm', 1.0);
  const clipValue = numberOption(values.value, 'value');
  if (!(maxNorm > 0) || (clipValue !== undefined && !(clipValue > 0)))
    throw new UsageError('--max-norm and --value must be positive');
  const a = await load(file);
  try {
    if (a.syntaxError) {
      err(
        `${file}:${a.syntaxError.line}:${a.syntaxError.column}: syntax error: ${a.syntaxError.message}; the file was left untouched`,
      );
      return DOES_NOT_PARSE;
    }
    const { proposals, patched, outcome } = planClipping(a, { maxNorm, clipValue });
    if (values.write && patched !== undefined) await writeFile(file, patched, 'utf8');
    if (values.json) {
      out(
        JSON.stringify(
          {
            file,
            loops: proposals.map((p) => siteJson(a, p.site, p.fix)),
            written: Boolean(values.write && patched !== undefined),
          },
          null,
          2,
        ),
      );
    } else if (patched !== undefined && !values.write) {
      out(unifiedDiff(file, a.source, patched));
    }
    for (const p of proposals) {
      const where = `${file}:${p.site.line + 1}`;
      if (p.site.clipping)
        err(`${where}: already clipped at line ${p.site.clipping.line + 1}: ${p.site.clipping.code}`);
      else if (p.fix) err(`${where}: ${p.fix.title}${values.write ? ' [written]' : ''}`);
      else
        err(
          `${where}: cannot place clipping automatically: ${p.site.cannotFix ?? (clipValue !== undefined ? `${p.site.framework} has no value clipping` : 'no edit available')}`,
        );
    }
    if (outcome === 'no-training-step')
      err(
        `${file}: no training step found (no backward()/optimizer step, Trainer, Keras optimizer, GradientTape loop or optax optimizer)`,
      );
    return EXIT[outcome];
  } finally {
    a.dispose();
  }
}

export async function checkCommand(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('check takes exactly one Python file');
  const file = positionals[0];
  const a = await load(file);
  try {
    if (a.syntaxError) {
      err(`${file}:${a.syntaxError.line}:${a.syntaxError.column}: syntax error: ${a.syntaxError.message}`);
      return DOES_NOT_PARSE;
    }
    const findings = a.checks.map((c) => ({
      code: c.code,
      severity: c.severity,
      ...a.where(c.start),
      end: a.where(c.end),
      message: c.message,
      fixes: c.fixes.map((f) => f.title),
    }));
    if (values.json) out(JSON.stringify({ file, findings }, null, 2));
    else
      for (const f of findings)
        out(
          `${file}:${f.line}:${f.column}: ${f.severity}: ${f.message} [${f.code}]${f.fixes.length ? ` (fix: ${f.fixes[0]})` : ''}`,
        );
    if (!values.json && findings.length === 0) err(`${file}: no problems found in ${a.sites.length} training site(s)`);
    return findings.length ? 1 : 0;
  } finally {
    a.dispose();
  }
}
