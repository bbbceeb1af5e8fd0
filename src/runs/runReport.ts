/**
 * What a finished run's summary shows: steps, duration, norm statistics, alerts with their steps,
 * the first non-finite step and its layers, clip rate and a suggested max_norm. Computed from a
 * loaded log (all steps, not a chart's downsampled view); shared by `gradient-monitor inspect`, the
 * dashboard's summary and the clipping quick fix.
 */
import { Alert, FirstNonFinite } from '../alerts/rules';
import { LoadedRun } from './loadRun';
import { normStats, NormStats, suggestMaxNorm } from './stats';

export interface RunReport {
  runId: string | null;
  name: string | null;
  framework: string | null;
  /** 'completed' | 'failed' | 'interrupted', 'unfinished' (no run_end), or 'empty' (no run at all). */
  status: string;
  steps: number;
  firstStep: number | null;
  lastStep: number | null;
  /** Seconds between the first and the last step's time; null when steps carry no time. */
  durationSeconds: number | null;
  /** Statistics of the total norm over every step that measured one (non-finite steps counted apart). */
  norm: NormStats;
  maxNormStep: number | null;
  /** The run's threshold; null without a run. */
  threshold: number | null;
  thresholdExceeded: { count: number; firstStep: number | null };
  firstNonFinite: FirstNonFinite | null;
  nonFiniteSteps: number;
  skippedSteps: number;
  spikes: number[];
  /** Alerts in step order (the first 10,000), and how many there were in all. */
  alerts: Alert[];
  alertCount: number;
  /** Share of steps that reported clipping, among those that said; null when none said. */
  clipRate: number | null;
  /** A max_norm leaving healthy steps alone (see suggestMaxNorm); null with too few finite steps. */
  suggestedMaxNorm: number | null;
  layers: string[];
  ranks: number[];
}

export function reportFor(loaded: LoadedRun): RunReport {
  const { run, tally, totals } = loaded;
  const rules = run?.rules;
  const hasSteps = tally.firstStep !== Infinity;
  return {
    runId: run?.id ?? null,
    name: run?.name ?? null,
    framework: run?.framework ?? null,
    // A log without run_end is a run that is still going or died without saying so.
    status: run ? (run.state === 'live' ? 'unfinished' : run.state) : 'empty',
    steps: run?.stepCount ?? 0,
    firstStep: hasSteps ? tally.firstStep : null,
    lastStep: run && run.lastStep >= 0 ? run.lastStep : null,
    durationSeconds: Number.isFinite(tally.firstTime) ? tally.lastTime - tally.firstTime : null,
    norm: normStats(totals),
    maxNormStep: tally.maxTotalStep >= 0 ? tally.maxTotalStep : null,
    threshold: run?.threshold ?? null,
    thresholdExceeded: {
      count: rules?.thresholdCount ?? 0,
      firstStep: rules && rules.thresholdFirstStep >= 0 ? rules.thresholdFirstStep : null,
    },
    firstNonFinite: rules?.firstNonFinite ?? null,
    nonFiniteSteps: rules?.nonFiniteCount ?? 0,
    skippedSteps: rules?.skippedCount ?? 0,
    spikes: rules?.spikes ?? [],
    alerts: run ? [...run.alerts].sort((a, b) => a.step - b.step) : [],
    alertCount: run?.alertCount ?? 0,
    clipRate: tally.clipKnown > 0 ? tally.clipped / tally.clipKnown : null,
    suggestedMaxNorm: suggestMaxNorm(totals) ?? null,
    layers: run?.layers ?? [],
    ranks: run?.ranks ?? [],
  };
}
