/**
 * The extension side of a dashboard page in compare mode, free of VS Code: several runs (live ones
 * from the Hub, recorded ones loaded from their logs) overlaid on the norm chart. Each run travels
 * as its snapshot rows (raw recent steps, min/max/non-finite rows of older buckets), so the page
 * draws every run as truthfully as a single-run dashboard. Live members resend at most once a second.
 */
import { Run } from '../runs/runStore';
import { ComparedRun, CompareMessage, HostMessage, parseWebviewMessage } from '../shared/webviewProtocol';
import { Coalescer, realScheduler, Scheduler } from './coalescer';
import { runHeader, snapshotRows } from './rows';
import { RunSource } from './runSource';

/** A run of the comparison; `run()` is undefined until a recorded log yields its first steps. */
export interface CompareMember {
  key: string;
  run(): Run | undefined;
}

/** The whole comparison, in the members' order; members without a run yet are left out. */
export function compareMessage(members: readonly CompareMember[]): CompareMessage {
  const runs: ComparedRun[] = [];
  for (const m of members) {
    const run = m.run();
    if (!run) continue;
    const series = run.series();
    runs.push({
      key: m.key,
      run: runHeader(run),
      rows: series ? snapshotRows(series) : { steps: new Float64Array(0), totals: new Float64Array(0) },
      bucketWidth: series?.envelope.bucketWidth ?? 1,
    });
  }
  return { type: 'compare', runs };
}

export interface CompareSessionOptions {
  scheduler?: Scheduler;
  /** Minimum time between resends while members change (default 1000 ms: whole rows of every run travel). */
  updateIntervalMs?: number;
}

export class CompareSession {
  private ready = false;
  private readonly coalescer: Coalescer;
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly members: readonly CompareMember[],
    sources: readonly RunSource[],
    private readonly post: (message: HostMessage) => void,
    options: CompareSessionOptions = {},
  ) {
    this.coalescer = new Coalescer(
      () => this.send(),
      options.updateIntervalMs ?? 1000,
      options.scheduler ?? realScheduler,
    );
    this.unsubscribe = sources.map((s) => s.subscribe((run) => this.onChange(run)));
  }

  /** A message from the page: only `ready` matters here (the page asks for nothing else in compare mode). */
  handle(raw: unknown): void {
    if (parseWebviewMessage(raw)?.type !== 'ready') return;
    this.ready = true;
    this.send();
  }

  /** The page is gone (panel hidden); it says `ready` again when it comes back. */
  detach(): void {
    this.ready = false;
    this.coalescer.dispose();
  }

  dispose(): void {
    this.detach();
    for (const u of this.unsubscribe) u();
  }

  private onChange(run: Run): void {
    if (this.ready && this.members.some((m) => m.run() === run)) this.coalescer.request();
  }

  private send(): void {
    if (this.ready) this.post(compareMessage(this.members));
  }
}
