/**
 * Summary of a recorded or imported run (`gradient-monitor inspect`), computed by replaying its log
 * through the same rules as live.
 */
import { AlertSettings, DEFAULT_ALERT_SETTINGS, FirstNonFinite } from '../alerts/rules';
import { LogFormat } from '../importers/types';
import { ReadProblem } from '../logs/problems';
import { loadRun } from './loadRun';
import { reportFor } from './runReport';
import { DEFAULT_SERIES_LIMITS } from './series';

export interface RunSummary {
  run_id: string | null;
  name: string | null;
  framework: string | null;
  format: LogFormat;
  /** Distinct steps recorded (on the primary rank). */
  steps: number;
  /** Those of them that measured a total norm (0 for a loss-only log); the norm statistics cover these. */
  norm_steps: number;
  first_step: number | null;
  last_step: number | null;
  duration_seconds: number | null;
  max_total_norm: number | null;
  max_total_norm_step: number | null;
  median_total_norm: number | null;
  p99_total_norm: number | null;
  threshold: number;
  threshold_exceeded: { count: number; first_step: number | null };
  /** With `origin` (step.nonfinite_origin) when the client traced where the NaN was born. */
  first_nonfinite: FirstNonFinite | null;
  nonfinite_steps: number;
  skipped_steps: number;
  spikes: number[];
  clip_rate: number | null;
  suggested_max_norm: number | null;
  status: string;
  layers: number;
  ranks: number[];
  /** Problems met while reading, by line (text formats) or byte offset (event files), and a torn last line. */
  read: { lines: number; bad_lines: ReadProblem[]; torn_tail: boolean; notes: string[] };
  /** Other run ids found in the same file (a log normally holds one run). */
  other_runs: string[];
}

export async function summarizeLog(
  file: string,
  settings: AlertSettings = DEFAULT_ALERT_SETTINGS,
): Promise<RunSummary> {
  // Only statistics are needed, so the chart series stays small.
  const loaded = await loadRun(file, {
    alerts: settings,
    series: { ...DEFAULT_SERIES_LIMITS, recentSteps: 1024, envelopeBuckets: 64 },
  });
  const r = reportFor(loaded);
  const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);
  return {
    run_id: r.runId,
    name: r.name,
    framework: r.framework,
    format: loaded.read.format,
    steps: r.steps,
    norm_steps: r.norm.count,
    first_step: r.firstStep,
    last_step: r.lastStep,
    duration_seconds: r.durationSeconds,
    max_total_norm: r.maxNormStep === null ? null : r.norm.max,
    max_total_norm_step: r.maxNormStep,
    median_total_norm: orNull(r.norm.median),
    p99_total_norm: orNull(r.norm.p99),
    threshold: r.threshold ?? settings.threshold,
    threshold_exceeded: { count: r.thresholdExceeded.count, first_step: r.thresholdExceeded.firstStep },
    first_nonfinite: r.firstNonFinite,
    nonfinite_steps: r.nonFiniteSteps,
    skipped_steps: r.skippedSteps,
    spikes: r.spikes,
    clip_rate: r.clipRate,
    suggested_max_norm: r.suggestedMaxNorm,
    status: r.status,
    layers: r.layers.length,
    ranks: r.ranks,
    read: {
      lines: loaded.read.lines ?? 0,
      bad_lines: loaded.read.problems,
      torn_tail: loaded.read.tornTail,
      notes: loaded.read.notes,
    },
    other_runs: loaded.otherRunIds,
  };
}
