/** Summary of a recorded run (`gradient-monitor inspect`), computed by replaying its log through the same rules as live. */
import { AlertSettings, DEFAULT_ALERT_SETTINGS } from '../alerts/rules';
import { Run } from '../runs/runStore';
import { DEFAULT_SERIES_LIMITS } from '../runs/series';
import { readRunLog, ReadSummary } from './reader';

export interface RunSummary {
  run_id: string | null;
  name: string | null;
  framework: string | null;
  /** Distinct steps recorded (on the primary rank). */
  steps: number;
  first_step: number | null;
  last_step: number | null;
  max_total_norm: number | null;
  max_total_norm_step: number | null;
  threshold: number;
  threshold_exceeded: { count: number; first_step: number | null };
  first_nonfinite: { step: number; layers: string[] } | null;
  nonfinite_steps: number;
  skipped_steps: number;
  spikes: number[];
  status: string;
  layers: number;
  ranks: number[];
  /** Problems met while reading: bad lines and a torn last line. */
  read: { lines: number; bad_lines: { line: number; message: string }[]; torn_tail: boolean };
  /** Other run ids found in the same file (a log normally holds one run). */
  other_runs: string[];
}

export async function summarizeLog(file: string, settings: AlertSettings = DEFAULT_ALERT_SETTINGS): Promise<RunSummary> {
  let run: Run | undefined;
  const others = new Set<string>();
  let max = -Infinity;
  let maxStep = -1;
  let firstStep = Infinity;
  const read: ReadSummary = await readRunLog(file, (m) => {
    run ??= new Run(m.run_id, settings, { ...DEFAULT_SERIES_LIMITS, recentSteps: 1024, envelopeBuckets: 64 }, Date.now());
    if (m.run_id !== run.id) {
      others.add(m.run_id);
      return;
    }
    if (m.type === 'run_start') run.start(m);
    else if (m.type === 'run_end') run.end(m);
    else if (run.step(m) !== undefined && (m.rank ?? 0) === run.primaryRank) {
      if (m.step < firstStep) firstStep = m.step;
      if (Number.isFinite(m.total_norm) && m.total_norm > max) {
        max = m.total_norm;
        maxStep = m.step;
      }
    }
  });
  const r = run;
  return {
    run_id: r?.id ?? null,
    name: r?.name ?? null,
    framework: r?.framework ?? null,
    steps: r?.stepCount ?? 0,
    first_step: Number.isFinite(firstStep) ? firstStep : null,
    last_step: r && r.lastStep >= 0 ? r.lastStep : null,
    max_total_norm: maxStep >= 0 ? max : null,
    max_total_norm_step: maxStep >= 0 ? maxStep : null,
    threshold: r?.threshold ?? settings.threshold,
    threshold_exceeded: { count: r?.rules.thresholdCount ?? 0, first_step: r && r.rules.thresholdFirstStep >= 0 ? r.rules.thresholdFirstStep : null },
    first_nonfinite: r?.rules.firstNonFinite ?? null,
    nonfinite_steps: r?.rules.nonFiniteCount ?? 0,
    skipped_steps: r?.rules.skippedCount ?? 0,
    spikes: r?.rules.spikes ?? [],
    // A log without run_end is a run that is still going or died without saying so.
    status: r ? (r.state === 'live' ? 'unfinished' : r.state) : 'empty',
    layers: r?.layers.length ?? 0,
    ranks: r?.ranks ?? [],
    read: { lines: read.lines, bad_lines: read.errors, torn_tail: read.tornTail },
    other_runs: [...others],
  };
}
