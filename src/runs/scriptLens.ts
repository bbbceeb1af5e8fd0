/**
 * What the CodeLens over a training script's clipping call and optimizer step says about the
 * script's latest run, live or recorded: "grad 0.82 · max 31.3 · clipped 12% · suggested max_norm
 * 2.5". Pure: src/vscode/scriptLens.ts places it and keeps it fresh.
 */
import { fmt } from '../shared/format';
import type { TrainingSite } from '../python/model';
import { RunFile, runDate } from './runFiles';
import type { Run } from './runStore';
import { sameScript, suggestionForRun } from './scriptLink';

export interface ScriptLensFacts {
  runName: string;
  live: boolean;
  /** Latest total norm (a live run), NaN when unknown. */
  latest: number;
  /** Largest finite total norm of the run, NaN when it has none. */
  max: number;
  /** Fraction of the steps that reported clipping which were clipped; null when none reported. */
  clipRate: number | null;
  suggestedMaxNorm: number | undefined;
}

/** Facts of a run held in memory (live, or streamed earlier in this window). */
export function factsOfRun(run: Run): ScriptLensFacts {
  const series = run.series();
  let max = NaN;
  let clipKnown = 0;
  let clipped = 0;
  if (series) {
    // Old history is folded into envelopes that keep each bucket's maximum; the recent window is raw.
    for (const bucket of series.envelope.points()) if (!(bucket.max <= max)) max = bucket.max;
    for (let k = 0; k < series.recentSize; k++) {
      const total = series.totalAt(k);
      if (total !== undefined && Number.isFinite(total) && !(total <= max)) max = total;
      const c = series.clippedAt(k);
      if (c !== undefined) {
        clipKnown++;
        if (c) clipped++;
      }
    }
  }
  return {
    runName: run.name,
    live: run.state === 'live',
    latest: run.lastTotal ?? NaN,
    max,
    clipRate: clipKnown > 0 ? clipped / clipKnown : null,
    suggestedMaxNorm: suggestionForRun(run),
  };
}

/** The numbers of a recorded log's summary (`gradient-monitor inspect --json`) that a lens shows. */
export interface RecordedRunNumbers {
  run_id: string | null;
  name: string | null;
  max_total_norm: number | null;
  clip_rate: number | null;
  suggested_max_norm: number | null;
}

/** Facts of a recorded log, from its summary. */
export function factsOfSummary(summary: RecordedRunNumbers): ScriptLensFacts {
  return {
    runName: summary.name ?? summary.run_id ?? 'recorded run',
    live: false,
    latest: NaN,
    max: summary.max_total_norm ?? NaN,
    clipRate: summary.clip_rate,
    suggestedMaxNorm: summary.suggested_max_norm ?? undefined,
  };
}

export function lensTitle(f: ScriptLensFacts): string {
  const parts: string[] = [];
  if (f.live) parts.push(`grad ${Number.isNaN(f.latest) ? '…' : fmt(f.latest)}`);
  else parts.push(`last run ${f.runName}`);
  if (!Number.isNaN(f.max)) parts.push(`max ${fmt(f.max)}`);
  if (f.clipRate !== null) parts.push(`clipped ${formatPercent(f.clipRate)}`);
  if (f.suggestedMaxNorm !== undefined) parts.push(`suggested max_norm ${fmt(f.suggestedMaxNorm)}`);
  return parts.join(' · ');
}

export function lensTooltip(f: ScriptLensFacts): string {
  return `Run ${f.runName} (${f.live ? 'live' : 'recorded'}): click to open its dashboard`;
}

/** Whole percents, except that a rate above 0 never reads as 0% (nor one below 1 as 100%). */
function formatPercent(rate: number): string {
  const p = rate * 100;
  if (p > 0 && p < 1) return '<1%';
  if (p < 100 && p > 99) return '>99%';
  return `${Math.round(p)}%`;
}

/** 0-based lines that get a lens: each training site's line and its clipping call's, once each, in order. */
export function lensLines(sites: readonly TrainingSite[]): number[] {
  const lines = new Set<number>();
  for (const site of sites) {
    lines.add(site.line);
    if (site.clipping) lines.add(site.clipping.line);
  }
  return [...lines].sort((a, b) => a - b);
}

/** The newest recorded log that says it came from `script`. */
export function latestRecordedRun(files: readonly RunFile[], script: string): RunFile | undefined {
  let best: RunFile | undefined;
  for (const f of files)
    if (f.script !== undefined && sameScript(f.script, script) && (!best || runDate(f) > runDate(best))) best = f;
  return best;
}
