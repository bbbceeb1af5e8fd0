/** What an import changes in the messages it writes (`--run-id`, `--name`) and counts of them. */
import { describeReadProblems } from '../logs/problems';
import { StepText } from '../logs/runLogText';
import { ClientMessage } from '../protocol/messages';
import { LogReadResult } from './types';

export class NothingToImportError extends Error {}

export class ImportedRun {
  private firstId: string | undefined;
  private name = '';
  private steps = 0;

  constructor(private readonly opts: { runId?: string; name?: string }) {}

  message(m: ClientMessage): void {
    this.firstId ??= m.run_id;
    if (m.run_id === this.firstId && this.opts.runId) m.run_id = this.opts.runId;
    if (m.type === 'run_start' && m.run_id === this.runId) {
      if (this.opts.name) m.name = this.opts.name;
      this.name = m.name ?? m.run_id;
    }
    if (m.type === 'step') this.steps++;
  }

  stepText(s: StepText): void {
    this.firstId ??= s.run_id;
    if (s.run_id === this.firstId && this.opts.runId) s.run_id = this.opts.runId;
    this.steps++;
  }

  /** Steps written elsewhere (another thread's part of the source). */
  addSteps(count: number): void {
    this.steps += count;
  }

  /** The id the run is written under: the one asked for, or the source's first. */
  get runId(): string {
    return this.opts.runId ?? this.firstId ?? '';
  }

  /** What was imported; throws NothingToImportError when no step was. */
  summary(source: string, read: LogReadResult): { read: LogReadResult; runId: string; name: string; steps: number } {
    if (this.steps === 0) {
      const why = describeReadProblems(source, read.problems);
      throw new NothingToImportError(
        why ? `nothing to import from ${why}` : `${source}: nothing to import: no step has a gradient norm`,
      );
    }
    return { read, runId: this.runId, name: this.name || this.runId, steps: this.steps };
  }
}
