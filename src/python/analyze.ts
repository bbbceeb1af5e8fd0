/**
 * Entry point of the Python analysis shared by the editor and the CLI: parse a training script,
 * find where it trains, what clipping it has, which edits add or retarget clipping, and which
 * checks fail. Every edit is re-parsed before it is offered: a fix never breaks the file.
 */
import { torchChecks } from './checks';
import { AnalysisContext } from './context';
import { applyEdits, LineIndex, TextEdit } from './edits';
import type { ImportSpec } from './imports';
import { kerasSites } from './kerasSites';
import type { Check, Fix, TrainingSite } from './model';
import { optaxSites } from './optaxSites';
import { firstSyntaxProblem, PythonParser, SyntaxProblem, Tree } from './parser';
import { findTorchSteps } from './torch';
import { torchSite } from './torchSites';
import { trainerSites } from './trainerSites';

export interface AnalysisOptions {
  /**
   * Reads a file the script names (a DeepSpeed JSON config), relative to the script's folder; undefined when it cannot.
   */
  readFile?: (path: string) => string | undefined;
  /** How an offset is named in messages (`cell 4, line 5` in a notebook); `line N` by default. */
  place?: (offset: number) => string;
}

export class PythonAnalysis {
  readonly lines: LineIndex;
  readonly syntaxError?: SyntaxProblem;
  readonly sites: TrainingSite[] = [];
  readonly checks: Check[] = [];
  private readonly ctx?: AnalysisContext;
  private readonly errorCount: number;

  /** Sites and checks hold the syntax tree: call dispose() when done. */
  private readonly tree: Tree;

  constructor(
    private readonly parser: PythonParser,
    readonly source: string,
    private readonly options: AnalysisOptions = {},
  ) {
    const tree = (this.tree = parser.parse(source));
    this.lines = new LineIndex(source);
    this.syntaxError = firstSyntaxProblem(tree.rootNode);
    this.errorCount = this.syntaxError ? parser.errorCount(source) : 0;
    if (this.syntaxError) return;
    const ctx = new AnalysisContext(tree.rootNode, source, options.readFile, options.place);
    this.ctx = ctx;
    const steps = findTorchSteps(ctx);
    const torch = steps.map((s) => torchSite(ctx, s));
    this.sites = [...torch, ...trainerSites(ctx), ...kerasSites(ctx), ...optaxSites(ctx)].sort(
      (a, b) => a.line - b.line,
    );
    this.checks = torchChecks(ctx, steps, torch);
  }

  dispose(): void {
    this.tree.delete();
  }

  /** The edits of some fixes together, with the imports they need added once (only those missing). */
  editsFor(fixes: readonly Fix[]): TextEdit[] {
    const edits = fixes.flatMap((f) => f.edits);
    const lines = [...new Map(fixes.flatMap((f) => f.imports).map((i: ImportSpec) => [i.line, i])).values()]
      .filter(
        (i) =>
          !this.ctx?.imports.bindings.some((b) => b.moduleLevel && b.local === i.local && b.qualified === i.qualified),
      )
      .map((i) => i.line);
    if (lines.length && this.ctx) {
      const { insertAt, insertNeedsNewline } = this.ctx.imports;
      const eol = this.ctx.style.eol;
      edits.unshift({
        start: insertAt,
        end: insertAt,
        text: (insertNeedsNewline ? eol : '') + lines.map((l) => l + eol).join(''),
      });
    }
    return edits;
  }

  /** A file the script names, as the analysis was given it to read. */
  readFile(file: string): string | undefined {
    return this.options.readFile?.(file);
  }

  /** The edits the fixes make to other files (DeepSpeed JSON configs), by path as the script names them. */
  fileEditsFor(fixes: readonly Fix[]): Map<string, TextEdit[]> {
    const out = new Map<string, TextEdit[]>();
    for (const f of fixes.flatMap((x) => x.files ?? [])) out.set(f.path, [...(out.get(f.path) ?? []), ...f.edits]);
    return out;
  }

  /** The source with these fixes applied. */
  apply(fixes: readonly Fix[]): string {
    return applyEdits(this.source, this.editsFor(fixes));
  }

  /** Whether applying the fixes leaves the file parsing at least as well as before. */
  keepsParsing(fixes: readonly Fix[]): boolean {
    try {
      return this.parser.errorCount(this.apply(fixes)) <= this.errorCount;
    } catch {
      return false; // overlapping edits
    }
  }

  /** A fix if it is safe to offer. */
  safe(fix: Fix | undefined): Fix | undefined {
    return fix && this.keepsParsing([fix]) ? fix : undefined;
  }

  /** 1-based line and column of an offset, for people. */
  where(offset: number): { line: number; column: number } {
    const p = this.lines.position(offset);
    return { line: p.line + 1, column: p.character + 1 };
  }
}

/** Sites a line belongs to (for the editor's actions), nearest first. */
export function sitesAtLine(analysis: PythonAnalysis, line: number): TrainingSite[] {
  return analysis.sites.filter((s) => s.lines.includes(line));
}

/** Frameworks whose steps the Python client reports from (its run's `meta.line`). */
const STEPPED = new Set<TrainingSite['framework']>(['pytorch', 'accelerate', 'fsdp']);

/**
 * The site a run's reported line belongs to: one on that line, else the nearest PyTorch step, else
 * the nearest site.
 */
export function siteNearLine(analysis: PythonAnalysis, line: number): TrainingSite | undefined {
  const on = sitesAtLine(analysis, line)[0];
  if (on) return on;
  const distance = (s: TrainingSite): number => Math.min(...s.lines.map((l) => Math.abs(l - line)));
  const byDistance = [...analysis.sites].sort((a, b) => distance(a) - distance(b));
  return byDistance.find((s) => STEPPED.has(s.framework)) ?? byDistance[0];
}
