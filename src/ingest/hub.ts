/**
 * The ingest pipeline shared by the extension and `gradient-monitor serve`: validated messages go
 * into the run store (dedupe, series, alerts) and the run's append-only log. A run id seen for the
 * first time whose log already exists (an endpoint restart) is first replayed from that log, so
 * steps a reconnecting client resends are recognised and recorded exactly once.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { Alert, AlertSettings } from '../alerts/rules';
import { readRunLog } from '../logs/reader';
import { RunRecorder } from '../logs/writer';
import type { LogLine } from '../protocol/frame';
import { ClientMessage } from '../protocol/messages';
import { stringifyKeepingNonFinite } from '../protocol/json';
import { LimitError, Run, RunStore } from '../runs/runStore';
import type { Disposable } from '../shared/dispose';

export interface HubEvents {
  /** A run appeared or its metadata or state changed. */
  run: [run: Run];
  /** New steps were recorded for a run (coalesce before drawing). */
  steps: [run: Run, count: number];
  alert: [alert: Alert, run: Run];
  /** The alert settings changed: the runs' thresholds may have moved. */
  reconfigured: [];
  /** Writing a run's log failed (error) or recovered (undefined). */
  recording: [runId: string, error: Error | undefined];
}

export interface IngestResult {
  /** Messages refused by the store (limits), with the reason, by index in the input. */
  rejected: { index: number; message: string }[];
  /** Runs the accepted messages (duplicates included) went to. */
  runIds: Set<string>;
  /** Settles once every accepted message is on disk (waits out a disk failure): the moment to acknowledge them. */
  recorded: Promise<void>;
}

export class Hub extends EventEmitter<HubEvents> {
  readonly store: RunStore;
  readonly recorder: RunRecorder;
  private readonly loading = new Map<string, Promise<void>>();
  /** Runs known from logs other processes write (see applyFollowed), not from this endpoint. */
  private readonly followed = new Set<string>();

  constructor(store: RunStore, logDir: string) {
    super();
    this.store = store;
    this.recorder = new RunRecorder(logDir, { onError: (runId, err) => this.emit('recording', runId, err) });
  }

  /**
   * Calls `listener` on every `event` until the returned Disposable is disposed (an extension's
   * subscriptions, say).
   */
  subscribe<K extends keyof HubEvents>(event: K, listener: (...args: HubEvents[K]) => void): Disposable {
    // Node's typings spell a listener as a conditional type, which a still-generic K cannot satisfy.
    this.on(event, listener as never);
    return { dispose: () => void this.off(event, listener as never) };
  }

  /**
   * Applies messages to the store and queues them for the run logs; resolves once applied, with a
   * promise for their recording, so a connection can go on with its next frame while the disk
   * catches up (and the live view keeps going while a disk is failing). `verbatim[i]`, when given,
   * is message i's text (or its bytes) as the client sent it, recorded as is (see protocol/frame.ts).
   */
  async ingest(
    messages: readonly ClientMessage[],
    verbatim: readonly (LogLine | undefined)[] = [],
  ): Promise<IngestResult> {
    const rejected: IngestResult['rejected'] = [];
    for (const m of messages) {
      if (!this.store.has(m.run_id) || this.loading.has(m.run_id)) await this.resume(m.run_id);
    }
    const stepCounts = new Map<Run, number>();
    const runIds = new Set<string>();
    messages.forEach((m, index) => {
      let run: Run;
      let fresh: boolean;
      try {
        run = this.store.getOrCreate(m.run_id);
        fresh = this.apply(run, m, false);
      } catch (e) {
        if (!(e instanceof LimitError)) throw e;
        rejected.push({ index, message: e.message });
        return;
      }
      if (fresh) this.recorder.append(m.run_id, verbatim[index] ?? stringifyKeepingNonFinite(m));
      // A resent duplicate is acknowledged only once its first copy is written, too.
      runIds.add(m.run_id);
      if (m.type === 'step') stepCounts.set(run, (stepCounts.get(run) ?? 0) + 1);
    });
    for (const [run, n] of stepCounts) this.emit('steps', run, n);
    return { rejected, runIds, recorded: this.recorder.flush(runIds) };
  }

  /**
   * Messages read from a log another process writes (a run with no endpoint: a cluster job, a script
   * started elsewhere): applied and announced like streamed ones, so the same alerts follow, but never
   * recorded again (that log is their record). `replaying`: history from before following began,
   * applied silently. Messages over the store's limits are left out.
   */
  applyFollowed(messages: readonly ClientMessage[], replaying = false): void {
    const stepCounts = new Map<Run, number>();
    const touched = new Set<Run>();
    for (const m of messages) {
      let run: Run;
      try {
        run = this.store.getOrCreate(m.run_id);
      } catch (e) {
        if (e instanceof LimitError) continue;
        throw e;
      }
      this.followed.add(m.run_id);
      if (!replaying && m.type !== 'run_end' && run.state === 'interrupted') {
        run.state = 'live'; // its log grows again after a pause taken for its end
        this.emit('run', run);
      }
      if (this.apply(run, m, replaying) && m.type === 'step') stepCounts.set(run, (stepCounts.get(run) ?? 0) + 1);
      touched.add(run);
    }
    if (replaying) for (const run of touched) this.emit('run', run);
    for (const [run, n] of stepCounts) this.emit('steps', run, n);
  }

  /** Whether a run reached this hub through this endpoint (streamed), not through a followed log. */
  isStreamed(runId: string): boolean {
    return this.store.has(runId) && !this.followed.has(runId);
  }

  /** Applies new alert settings and run limit to every run and to the runs to come. */
  reconfigure(alerts: AlertSettings, maxRuns: number): void {
    this.store.reconfigure(alerts, maxRuns);
    this.emit('reconfigured');
  }

  /** Why writing a run's log fails at the moment (its lines wait in memory), or undefined. */
  recordingFailure(runId: string): Error | undefined {
    return this.recorder.failure(runId);
  }

  logPath(runId: string): string {
    return this.recorder.pathFor(runId);
  }

  /** Flushes and closes the logs; see RunRecorder.close for the deadline. Resolves with the lines given up. */
  close(deadlineMs?: number): Promise<number> {
    return this.recorder.close(deadlineMs);
  }

  /** Applies one message to its run; returns false for a duplicate step that must not be recorded again. */
  private apply(run: Run, m: ClientMessage, replaying: boolean): boolean {
    switch (m.type) {
      case 'run_start':
        run.start(m);
        if (!replaying) this.emit('run', run);
        return true;
      case 'step': {
        const alerts = run.step(m);
        if (alerts === undefined) return false;
        if (!replaying) for (const a of alerts) this.emit('alert', a, run);
        return true;
      }
      case 'run_end':
        run.end(m);
        if (!replaying) this.emit('run', run);
        return true;
    }
  }

  private resume(runId: string): Promise<void> {
    let p = this.loading.get(runId);
    if (!p) {
      p = this.replay(runId).finally(() => this.loading.delete(runId));
      this.loading.set(runId, p);
    }
    return p;
  }

  private async replay(runId: string): Promise<void> {
    const file = this.logPath(runId);
    if (!existsSync(file)) return;
    const run = this.store.getOrCreate(runId);
    await readRunLog(file, (m) => {
      if (m.run_id === runId) this.apply(run, m, true);
    });
    if (run.state !== 'live') run.state = 'live'; // it is streaming again
    this.emit('run', run);
  }
}
