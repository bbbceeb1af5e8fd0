/** Builds the golden report of one training script: sites, checks and every edit the analysis proposes, as diffs. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PythonAnalysis } from '../../src/python/analyze';
import { applyEdits } from '../../src/python/edits';
import { planClipping, unifiedDiff } from '../../src/python/clipPlan';
import type { Fix } from '../../src/python/model';

export const GOLDEN_MAX_NORM = 1.0;
export const GOLDEN_CLIP_VALUE = 0.5;
/** A max_norm different from every fixture's own, to show "Set max_norm". */
export const GOLDEN_RETARGET = 2.5;

export interface GoldenOutputs {
  report: string;
  /** Every patched version of the file, by section name. */
  patched: Record<string, string>;
}

/** Reads a file a fixture names (a DeepSpeed JSON config) beside the fixtures. */
export function fixtureReader(dir: string): (file: string) => string | undefined {
  return (file) => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch {
      return undefined;
    }
  };
}

export function goldenReport(
  a: PythonAnalysis,
  name: string,
  readFile: (file: string) => string | undefined = () => undefined,
): GoldenOutputs {
  const out: string[] = [`# ${name}`];
  const patched: Record<string, string> = {};
  const section = (title: string, fixes: Fix[]): void => {
    out.push('', `## ${title}`);
    if (fixes.length === 0) {
      out.push('(none)');
      return;
    }
    for (const f of fixes) out.push(`- ${f.title}`);
    const after = a.apply(fixes);
    patched[title] = after;
    if (after !== a.source) out.push(unifiedDiff(name, a.source, after));
    for (const [file, edits] of a.fileEditsFor(fixes)) {
      const before = readFile(file) ?? '';
      out.push(unifiedDiff(file, before, applyEdits(before, edits)));
    }
  };
  if (a.syntaxError) {
    out.push('', `syntax error at ${a.syntaxError.line}:${a.syntaxError.column}: ${a.syntaxError.message}`);
    return { report: out.join('\n') + '\n', patched };
  }
  out.push('', '## sites');
  if (a.sites.length === 0) out.push('(none)');
  for (const s of a.sites) {
    out.push(`- ${s.framework} line ${s.line + 1}: ${s.summary}`);
    out.push(`  details: ${JSON.stringify(s.details)}`);
    if (s.clipping)
      out.push(`  clipping: line ${s.clipping.line + 1} ${s.clipping.kind} by ${s.clipping.by}: ${s.clipping.code}`);
    if (s.note) out.push(`  note: ${s.note}`);
    if (s.cannotFix) out.push(`  cannot fix: ${s.cannotFix}`);
  }
  out.push('', '## checks');
  if (a.checks.length === 0) out.push('(none)');
  for (const c of a.checks) {
    out.push(`- line ${a.where(c.start).line} ${c.code} (${c.severity}): ${c.message}`);
    for (const f of c.fixes) out.push(`  fix: ${f.title}${a.keepsParsing([f]) ? '' : ' [BREAKS PARSING]'}`);
  }
  const norm = planClipping(a, { maxNorm: GOLDEN_MAX_NORM });
  out.push('', `## clip --max-norm ${GOLDEN_MAX_NORM} -> ${norm.outcome}`);
  section(
    `clip norm`,
    norm.proposals.flatMap((p) => (p.fix ? [p.fix] : [])),
  );
  const value = planClipping(a, { maxNorm: GOLDEN_MAX_NORM, clipValue: GOLDEN_CLIP_VALUE });
  out.push('', `## clip --value ${GOLDEN_CLIP_VALUE} -> ${value.outcome}`);
  section(
    'clip value',
    value.proposals.flatMap((p) => (p.fix ? [p.fix] : [])),
  );
  section(
    'alternatives',
    a.sites
      .flatMap((s) => (s.clipping ? [] : (s.alternatives?.(GOLDEN_MAX_NORM) ?? [])))
      .filter((f) => a.keepsParsing([f])),
  );
  section(
    `set max_norm ${GOLDEN_RETARGET}`,
    a.sites.flatMap((s) => a.safe(s.setMaxNorm?.(GOLDEN_RETARGET)) ?? []),
  );
  section(
    'check fixes',
    a.checks.flatMap((c) => a.safe(c.fixes[0]) ?? []),
  );
  section('monitoring', a.sites.flatMap((s) => a.safe(s.addMonitoring?.()) ?? []).slice(0, 1));
  return { report: out.join('\n') + '\n', patched };
}
