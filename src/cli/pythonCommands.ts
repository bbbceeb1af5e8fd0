/**
 * `gradient-monitor clip` and `gradient-monitor check`: the editor's clipping quick fixes and training-loop checks on
 * the command line.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PythonAnalysis } from '../python/analyze';
import { ClipPlan, planClipping, unifiedDiff } from '../python/clipPlan';
import type { Fix, TrainingSite } from '../python/model';
import type { TextEdit } from '../python/edits';
import { NotebookError, NotebookProgram, parseIpynb, patchIpynb } from '../python/notebook';
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
const CANNOT_PLACE = 1;

/** A script or notebook under analysis: where offsets are for people, and how patched text goes back to disk. */
interface Loaded {
  a: PythonAnalysis;
  /** `12` for a script, `cell 4, line 5` for a notebook. */
  place(offset: number): string;
  /** A 0-based line of the analysed program, as a place. */
  placeLine(line: number): string;
  /** The file's new content once the program is patched by these edits. */
  written(edits: TextEdit[], patched: string): string;
  notebook?: NotebookProgram;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Reads files the script names (a DeepSpeed JSON config) beside it. */
function besideReader(file: string): (name: string) => string | undefined {
  return (name) => {
    try {
      return readFileSync(path.resolve(path.dirname(file), name), 'utf8');
    } catch {
      return undefined;
    }
  };
}

async function load(file: string, err: Out): Promise<Loaded | undefined> {
  const text = await readText(file);
  const parser = await pythonParser();
  const options = { readFile: besideReader(file) };
  if (!file.endsWith('.ipynb')) {
    const a = new PythonAnalysis(parser, text, options);
    return {
      a,
      place: (offset) => `${a.where(offset).line}`,
      placeLine: (line) => `${line + 1}`,
      written: (_edits, patched) => patched,
    };
  }
  let notebook: NotebookProgram;
  try {
    notebook = new NotebookProgram(parseIpynb(text));
  } catch (e) {
    if (!(e instanceof NotebookError)) throw e;
    err(`${file}: ${e.message}`);
    return undefined;
  }
  const a = new PythonAnalysis(parser, notebook.source, { ...options, place: (o) => notebook.where(o).text });
  return {
    a,
    notebook,
    place: (offset) => notebook.where(offset).text,
    placeLine: (line) => notebook.where(a.lines.lineStart(line)).text,
    written: (edits) => patchIpynb(text, notebook.patchedCells(edits)),
  };
}

/** `FILE:LINE:COL` of a script's first syntax error, `FILE: cell N, line M` in a notebook. */
function syntaxPlace(file: string, { a, notebook }: Loaded): string {
  const e = a.syntaxError!;
  return notebook
    ? `${file}: ${notebook.where(a.lines.lineStart(e.line - 1) + e.column - 1).text}`
    : `${file}:${e.line}:${e.column}`;
}

function siteJson(l: Loaded, site: TrainingSite, fix: Fix | undefined): Record<string, unknown> {
  const { a } = l;
  const cellOf = (offset: number): Record<string, number> =>
    l.notebook ? { cell: l.notebook.where(offset).cell } : {};
  return {
    framework: site.framework,
    line: site.line + 1,
    ...(l.notebook ? { place: l.placeLine(site.line) } : {}),
    summary: site.summary,
    ...site.details,
    clipping: site.clipping ? { ...site.clipping, line: site.clipping.line + 1 } : null,
    note: site.note ?? null,
    cannot_fix: site.cannotFix ?? null,
    edit: fix
      ? {
          title: fix.title,
          imports: fix.imports.map((i) => i.line),
          changes: fix.edits.map((e) => ({
            ...cellOf(e.start),
            start: l.notebook ? l.notebook.where(e.start) : a.where(e.start),
            end: l.notebook ? l.notebook.where(e.end) : a.where(e.end),
            text: e.text,
          })),
          files: (fix.files ?? []).map((f) => f.path),
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
  if (positionals.length !== 1) throw new UsageError('clip takes exactly one Python file or notebook');
  const file = positionals[0];
  const maxNorm = numberOption(values['max-norm'], 'max-norm', 1.0);
  const clipValue = numberOption(values.value, 'value');
  if (!(maxNorm > 0) || (clipValue !== undefined && !(clipValue > 0)))
    throw new UsageError('--max-norm and --value must be positive');
  const loaded = await load(file, err);
  if (!loaded) return DOES_NOT_PARSE;
  const { a } = loaded;
  try {
    if (a.syntaxError) {
      err(`${syntaxPlace(file, loaded)}: syntax error: ${a.syntaxError.message}; the file was left untouched`);
      return DOES_NOT_PARSE;
    }
    const { proposals, patched, files, outcome } = planClipping(a, { maxNorm, clipValue });
    let written: string | undefined;
    try {
      const fixes = proposals.flatMap((p) => (p.fix ? [p.fix] : []));
      written = patched === undefined ? undefined : loaded.written(a.editsFor(fixes), patched);
    } catch (e) {
      if (!(e instanceof NotebookError)) throw e;
      err(`${file}: ${e.message}; the file was left untouched`);
      return CANNOT_PLACE;
    }
    if (values.write && written !== undefined) {
      await writeFile(file, written, 'utf8');
      for (const [name, text] of files) await writeFile(path.resolve(path.dirname(file), name), text, 'utf8');
    }
    if (values.json) {
      out(
        JSON.stringify(
          {
            file,
            loops: proposals.map((p) => siteJson(loaded, p.site, p.fix)),
            written: Boolean(values.write && written !== undefined),
          },
          null,
          2,
        ),
      );
    } else if (written !== undefined && !values.write) {
      const before = await readText(file);
      out(unifiedDiff(file, before, written));
      for (const [name, text] of files) out(unifiedDiff(name, a.readFile(name) ?? '', text));
    }
    for (const p of proposals) {
      const where = `${file}:${loaded.placeLine(p.site.line)}`;
      const c = p.site.clipping;
      if (c)
        err(
          `${where}: already clipped by ${c.by} at ${loaded.placeLine(c.line).replace(/^(\d)/, 'line $1')}: ${c.code}`,
        );
      else if (p.fix) err(`${where}: ${p.fix.title}${values.write ? ' [written]' : ''}`);
      else
        err(
          `${where}: cannot place clipping automatically: ${p.site.cannotFix ?? (clipValue !== undefined ? `${p.site.framework} has no value clipping` : 'no edit available')}`,
        );
    }
    if (outcome === 'no-training-step')
      err(
        `${file}: no training step found (no backward()/optimizer step, DeepSpeed engine, Trainer, Keras optimizer, GradientTape loop or optax optimizer)`,
      );
    return EXIT[outcome];
  } finally {
    a.dispose();
  }
}

export async function checkCommand(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('check takes exactly one Python file or notebook');
  const file = positionals[0];
  const loaded = await load(file, err);
  if (!loaded) return DOES_NOT_PARSE;
  const { a } = loaded;
  try {
    if (a.syntaxError) {
      err(`${syntaxPlace(file, loaded)}: syntax error: ${a.syntaxError.message}`);
      return DOES_NOT_PARSE;
    }
    const findings = a.checks.map((c) => ({
      code: c.code,
      severity: c.severity,
      ...(loaded.notebook ? { cell: loaded.notebook.where(c.start).cell, place: loaded.place(c.start) } : {}),
      ...(loaded.notebook
        ? { line: loaded.notebook.where(c.start).line, column: loaded.notebook.where(c.start).column }
        : a.where(c.start)),
      end: loaded.notebook ? loaded.notebook.where(c.end) : a.where(c.end),
      message: c.message,
      fixes: c.fixes.map((f) => f.title),
    }));
    if (values.json) out(JSON.stringify({ file, findings }, null, 2));
    else
      for (const f of findings)
        out(
          `${file}:${'place' in f ? ` ${f.place}:` : `${f.line}:${f.column}:`} ${f.severity}: ${f.message} [${f.code}]${f.fixes.length ? ` (fix: ${f.fixes[0]})` : ''}`,
        );
    if (!values.json && findings.length === 0) err(`${file}: no problems found in ${a.sites.length} training site(s)`);
    return findings.length ? 1 : 0;
  } finally {
    a.dispose();
  }
}
