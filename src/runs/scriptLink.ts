/**
 * Links live runs to the training scripts they come from (`run_start.meta.script` / `meta.line`,
 * sent by the Python client; `meta.cell` for a notebook cell): alerts become per-line diagnostic data
 * for that file or cell, and a script's own run suggests its max_norm. A NaN traced to a module
 * (`step.nonfinite_origin`) also marks the line of that module's forward. Pure: the editor adapter
 * turns this into VS Code diagnostics.
 */
import * as path from 'node:path';
import { Alert } from '../alerts/rules';
import type { AlertKind } from '../shared/kinds';
import { NonfiniteOrigin, originLabel } from '../shared/nonfiniteOrigin';
import type { Run } from './runStore';
import { suggestMaxNorm } from './stats';

/** Recent steps a suggestion looks at: the run's current behaviour, not its distant past. */
const SUGGESTION_WINDOW = 5_000;

export interface ScriptLocation {
  file: string;
  /** 0-based line, when the run reported one (in the cell, for a notebook cell). */
  line?: number;
  /** The URI of the notebook cell's document (`vscode-notebook-cell:`), for a run started from a cell. */
  cell?: string;
}

/** What a run's diagnostics are keyed by: its notebook cell's URI, else its script's path. */
export function documentOf(at: { file: string; cell?: string }): string {
  return at.cell ?? at.file;
}

function normalize(file: string): string {
  const resolved = path.resolve(file);
  return process.platform === 'win32' ? resolved.toLowerCase() : resolved;
}

export function sameScript(a: string, b: string): boolean {
  return normalize(a) === normalize(b);
}

/** Where a run says it trains, or undefined when it did not say (or said nonsense). */
export function scriptOf(run: Pick<Run, 'meta'>): ScriptLocation | undefined {
  const { script, line, cell } = run.meta;
  if (typeof script !== 'string' || !path.isAbsolute(script)) return undefined;
  const valid = typeof line === 'number' && Number.isInteger(line) && line >= 1;
  const at: ScriptLocation = { file: script, line: valid ? line - 1 : undefined };
  if (typeof cell === 'string' && cell.startsWith('vscode-notebook-cell:')) at.cell = cell;
  return at;
}

/** The source of a traced NaN's module: its file as sent when absolute, else under the run's `meta.cwd`. */
export function originSource(run: Pick<Run, 'meta'>, origin: NonfiniteOrigin): ScriptLocation | undefined {
  if (!origin.file) return undefined;
  const cwd = run.meta.cwd;
  const base = typeof cwd === 'string' && path.isAbsolute(cwd) ? cwd : undefined;
  if (!path.isAbsolute(origin.file) && base === undefined) return undefined;
  return {
    file: path.resolve(base ?? '/', origin.file),
    line: origin.line !== undefined ? origin.line - 1 : undefined,
  };
}

/** The runs that say they train `file`, most recently active first. */
export function runsOfScript(runs: readonly Run[], file: string): Run[] {
  const own = runs.filter((r) => {
    const at = scriptOf(r);
    return at !== undefined && sameScript(at.file, file);
  });
  return own.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** The max_norm the most recently active run of a script suggests from its recent total norms. */
export function suggestionForScript(runs: readonly Run[], file: string): { maxNorm: number; run: Run } | undefined {
  for (const run of runsOfScript(runs, file)) {
    const maxNorm = suggestionForRun(run);
    if (maxNorm !== undefined) return { maxNorm, run };
  }
  return undefined;
}

export function suggestionForRun(run: Run): number | undefined {
  const series = run.series();
  if (!series) return undefined;
  return suggestMaxNorm(series.measuredTotals(Math.max(0, series.recentSize - SUGGESTION_WINDOW)));
}

export interface ScriptDiagnostic {
  /** Stable per run and alert kind: one diagnostic each, updated as alerts repeat. */
  key: string;
  runId: string;
  kind: AlertKind;
  file: string;
  cell?: string;
  line?: number;
  severity: Alert['severity'];
  message: string;
  firstStep: number;
  lastStep: number;
  count: number;
}

/** The diagnostics live runs raise on their scripts. */
export class ScriptDiagnostics {
  private readonly byKey = new Map<string, ScriptDiagnostic>();
  /** Dismissed (run, kind) pairs stay quiet for the rest of that run. */
  private readonly dismissed = new Set<string>();

  /** Records an alert; returns the document (see documentOf) whose diagnostics changed, if any. */
  onAlert(alert: Alert, run: Run): string | undefined {
    const at = scriptOf(run);
    if (!at || run.state !== 'live') return undefined;
    const key = `${run.id}\u0000${alert.kind}`;
    if (this.dismissed.has(key)) return undefined;
    const previous = this.byKey.get(key);
    const count = (previous?.count ?? 0) + 1;
    const firstStep = previous?.firstStep ?? alert.step;
    const repeats = count > 1 ? ` (${count} times since step ${firstStep})` : '';
    return this.put(key, run, alert, at, `${alert.message}${repeats}`, firstStep, count);
  }

  /** A run changed state: once it is no longer live its diagnostics go. Returns the documents that changed. */
  onRun(run: Run): string[] {
    if (run.state === 'live') return [];
    const files = new Set<string>();
    for (const [key, d] of this.byKey) {
      if (d.runId !== run.id) continue;
      this.byKey.delete(key);
      files.add(documentOf(d));
    }
    for (const key of this.dismissed) if (key.startsWith(`${run.id}\u0000`)) this.dismissed.delete(key);
    return [...files];
  }

  /** Hides one diagnostic until its run ends; returns its document. */
  dismiss(key: string): string | undefined {
    const d = this.byKey.get(key);
    if (!d) return undefined;
    this.byKey.delete(key);
    this.dismissed.add(key);
    return documentOf(d);
  }

  /** A non-finite alert traced to a module: one diagnostic on that module's forward; returns its document. */
  onOrigin(alert: Alert, run: Run): string | undefined {
    const at = alert.origin && originSource(run, alert.origin);
    if (!at || !alert.origin || run.state !== 'live') return undefined;
    const key = `${run.id}\u0000origin`;
    if (this.dismissed.has(key) || this.byKey.has(key)) return undefined; // the first origin is the one to fix
    return this.put(key, run, alert, at, `${originLabel(alert.origin)} (step ${alert.step})`, alert.step, 1);
  }

  private put(
    key: string,
    run: Run,
    alert: Alert,
    at: ScriptLocation,
    text: string,
    firstStep: number,
    count: number,
  ): string {
    this.byKey.set(key, {
      key,
      runId: run.id,
      kind: alert.kind,
      file: at.file,
      ...(at.cell ? { cell: at.cell } : {}),
      line: at.line,
      severity: alert.severity,
      message: `Gradient Monitor, run ${run.name}: ${text}`,
      firstStep,
      lastStep: alert.step,
      count,
    });
    return documentOf(at);
  }

  get(key: string): ScriptDiagnostic | undefined {
    return this.byKey.get(key);
  }

  /** The diagnostics of a document: a script's path or a notebook cell's URI (see documentOf). */
  forDocument(document: string): ScriptDiagnostic[] {
    return [...this.byKey.values()].filter((d) => (d.cell ? d.cell === document : sameScript(d.file, document)));
  }
}
