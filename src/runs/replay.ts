/**
 * The dashboard's "Reproduce" action: the lines that reload a run's snapshot of its first
 * non-finite step (`step.nonfinite_origin.snapshot`) and rerun it under `detect_anomaly`. The
 * lines come from the Python client's own template (REPLAY_TEMPLATE), the one
 * `python -m gradient_monitor replay FILE` fills too, so the CLI and the dashboard never differ.
 */
import type { Run } from './runStore';

/** The template, relative to the extension's root (the bundled client). */
export const REPLAY_TEMPLATE = ['clients', 'python', 'gradient_monitor', 'replay_template.txt'] as const;

export interface Replay {
  runId: string;
  step: number;
  /** The snapshot file, as the client sent it (the Python client sends an absolute path). */
  snapshot: string;
}

/** The replay of a run's first non-finite step, when the client saved a snapshot of it. */
export function replayOf(run: Pick<Run, 'id' | 'rules'>): Replay | undefined {
  const first = run.rules.firstNonFinite;
  const snapshot = first?.origin?.snapshot;
  return first && snapshot ? { runId: run.id, step: first.step, snapshot } : undefined;
}

/**
 * The template with its fields as Python literals: a JSON string is a valid Python string literal,
 * and snapshot.fill_replay_template writes the same ones (json.dumps, ensure_ascii=False).
 */
export function replayLines(template: string, replay: Replay): string {
  const values: Record<string, string> = {
    path: JSON.stringify(replay.snapshot),
    step: String(Math.trunc(replay.step)),
    run_id: JSON.stringify(replay.runId),
  };
  return template.replace(/\{(path|step|run_id)\}/g, (_, field: string) => values[field]);
}
