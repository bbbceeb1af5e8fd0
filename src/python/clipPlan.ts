/**
 * The clipping a whole file needs: one fix per unclipped site, applied together (what
 * `gradient-monitor clip` proposes).
 */
import { createTwoFilesPatch } from 'diff';
import type { PythonAnalysis } from './analyze';
import { applyEdits } from './edits';
import type { Fix, TrainingSite } from './model';

export interface ClipRequest {
  maxNorm: number;
  /** Value clipping with this limit instead of norm clipping. */
  clipValue?: number;
}

export interface ClipProposal {
  site: TrainingSite;
  fix?: Fix;
}

export interface ClipPlan {
  proposals: ClipProposal[];
  /** The file with every proposed fix applied; undefined when nothing is proposed. */
  patched?: string;
  /** Other files the fixes edit (DeepSpeed JSON configs), patched, by path as the script names them. */
  files: Map<string, string>;
  outcome: 'proposed' | 'already-clipped' | 'no-training-step' | 'cannot-place';
}

export function planClipping(a: PythonAnalysis, req: ClipRequest): ClipPlan {
  const proposals = a.sites.map((site): ClipProposal => {
    if (site.clipping) return { site };
    return {
      site,
      fix: a.safe(
        req.clipValue !== undefined ? site.addValueClipping?.(req.clipValue) : site.addNormClipping?.(req.maxNorm),
      ),
    };
  });
  const fixes = proposals.flatMap((p) => (p.fix ? [p.fix] : []));
  const patched = fixes.length && a.keepsParsing(fixes) ? a.apply(fixes) : undefined;
  const outcome =
    a.sites.length === 0
      ? 'no-training-step'
      : patched !== undefined
        ? 'proposed'
        : proposals.every((p) => p.site.clipping)
          ? 'already-clipped'
          : 'cannot-place';
  const files = new Map<string, string>();
  if (patched !== undefined)
    for (const [file, edits] of a.fileEditsFor(fixes)) {
      const before = a.readFile(file);
      if (before !== undefined) files.set(file, applyEdits(before, edits));
    }
  return { proposals, patched, files, outcome };
}

/** A unified diff of a file's change (`a/` and `b/` prefixes, 3 lines of context). */
export function unifiedDiff(file: string, before: string, after: string): string {
  return createTwoFilesPatch(`a/${file}`, `b/${file}`, before, after, undefined, undefined, { context: 3 })
    .replace(/^=+\n/, '')
    .trimEnd();
}
