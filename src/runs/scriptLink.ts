/**
 * Links live runs to the training scripts they come from (`run_start.meta.script` / `meta.line`,
 * sent by the Python client): alerts become per-line diagnostic data for that file, and a script's
 * own run suggests its max_norm. Pure: the editor adapter turns this into VS Code diagnostics.
 */
import * as path from 'node:path';
import { Alert } from '../alerts/rules';
import type { AlertKind } from '../shared/kinds';
import type { Run } from './runStore';
import { suggestMaxNorm } from './stats';

/** Recent steps a suggestion looks at: the run's current behaviour, not its distant past. */
const SUGGESTION_WINDOW = 5_000;

export interface ScriptLocation {
  file: string;
  /** 0-based line, when the run reported one. */
  line?: number;
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
  const { script, line } = run.meta;
  if (typeof script !== 'string' || !path.isAbsolute(script)) return undefined;
  const valid = typeof line === 'number' && Number.isInteger(line) && line >= 1;
  return { file: script, line: valid ? line - 1 : undefined };
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
  const n = Math.min(series.recentSize, SUGGESTION_WINDOW);
  const totals = new Float64Array(n);
  for (let k = 0; k < n; k++) totals[k] = series.recent(series.recentSize - n + k).total;
  return suggestMaxNorm(totals);
}

export interface ScriptDiagnostic {
  /** Stable per run and alert kind: one diagnostic each, updated as alerts repeat. */
  key: string;
  runId: string;
  kind: AlertKind;
  file: string;
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

  /** Records an alert; returns the file whose diagnostics changed, if any. */
  onAlert(alert: Alert, run: Run): string | undefined {
    const at = scriptOf(run);
    if (!at || run.state !== 'live') return undefined;
    const key = `${run.id}\u0000${alert.kind}`;
    if (this.dismissed.has(key)) return undefined;
    const previous = this.byKey.get(key);
    const count = (previous?.count ?? 0) + 1;
    const firstStep = previous?.firstStep ?? alert.step;
    const repeats = count > 1 ? ` (${count} times since step ${firstStep})` : '';
    this.byKey.set(key, {
      key,
      runId: run.id,
      kind: alert.kind,
      file: at.file,
      line: at.line,
      severity: alert.severity,
      message: `Gradient Monitor, run ${run.name}: ${alert.message}${repeats}`,
      firstStep,
      lastStep: alert.step,
      count,
    });
    return at.file;
  }

  /** A run changed state: once it is no longer live its diagnostics go. Returns the files that changed. */
  onRun(run: Run): string[] {
    if (run.state === 'live') return [];
    const files = new Set<string>();
    for (const [key, d] of this.byKey) {
      if (d.runId !== run.id) continue;
      this.byKey.delete(key);
      files.add(d.file);
    }
    for (const key of this.dismissed) if (key.startsWith(`${run.id}\u0000`)) this.dismissed.delete(key);
    return [...files];
  }

  /** Hides one diagnostic until its run ends; returns its file. */
  dismiss(key: string): string | undefined {
    const d = this.byKey.get(key);
    if (!d) return undefined;
    this.byKey.delete(key);
    this.dismissed.add(key);
    return d.file;
  }

  get(key: string): ScriptDiagnostic | undefined {
    return this.byKey.get(key);
  }

  forFile(file: string): ScriptDiagnostic[] {
    return [...this.byKey.values()].filter((d) => sameScript(d.file, file));
  }
}
