/**
 * What a dashboard shows about a recorded log: while it loads, then its summary over every step
 * (runReport.ts) with each read problem located, or why it could not be read at all.
 */
import { LoadedRun } from '../runs/loadRun';
import { reportFor, RunReport } from '../runs/runReport';
import { Run } from '../runs/runStore';
import { problemLocation } from '../logs/problems';
import { LogStatusMessage, MAX_SUMMARY_ALERTS, RecordedSummary } from '../shared/webviewProtocol';
import { alertMarkers, firstNonFiniteView } from './rows';

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function recordedSummary(report: RunReport): RecordedSummary | null {
  if (report.runId === null) return null;
  return {
    runId: report.runId,
    status: report.status,
    steps: report.steps,
    firstStep: report.firstStep,
    lastStep: report.lastStep,
    durationSeconds: report.durationSeconds,
    max: finiteOrNull(report.norm.max),
    maxStep: report.maxNormStep,
    median: finiteOrNull(report.norm.median),
    p99: finiteOrNull(report.norm.p99),
    nonFiniteSteps: report.nonFiniteSteps,
    firstNonFinite: firstNonFiniteView(report.firstNonFinite),
    alerts: alertMarkers(report.alerts.slice(0, MAX_SUMMARY_ALERTS)),
    alertCount: report.alertCount,
    clipRate: report.clipRate,
    suggestedMaxNorm: report.suggestedMaxNorm,
  };
}

export function loadingStatus(file: string): LogStatusMessage {
  return { type: 'logStatus', file, loading: true, problems: [], notes: [], summary: null };
}

/** The status of a finished load; `failure` is why it stopped early (cancelled, unreadable), if it did. */
export function loadedStatus(file: string, loaded: LoadedRun | undefined, failure?: string): LogStatusMessage {
  const problems = (loaded?.read.problems ?? []).map((p) => `${problemLocation(p)}: ${p.message}`);
  if (failure !== undefined) problems.unshift(failure);
  const notes = [...(loaded?.read.notes ?? [])];
  if (loaded?.read.tornTail)
    notes.push(
      'The last line was cut short (the run was likely killed while writing it) and was skipped; everything before it is shown.',
    );
  if (loaded && loaded.otherRunIds.length > 0)
    notes.push(`The log also holds runs ${loaded.otherRunIds.join(', ')}; only the first is shown.`);
  if (loaded && !loaded.run && failure === undefined)
    problems.push('no run in this file: it holds no run_start or step message');
  return {
    type: 'logStatus',
    file,
    loading: false,
    problems,
    notes,
    summary: loaded ? recordedSummary(reportFor(loaded)) : null,
  };
}

/** A log without run_end is not live in a viewer (nothing streams into it): it shows as interrupted, and says why. */
export function settleUnfinished(run: Run): void {
  if (run.state === 'live')
    run.end({
      type: 'run_end',
      run_id: run.id,
      status: 'interrupted',
      message: 'The log ends without run_end: the run was killed, or was still running when the log was read.',
    });
}
