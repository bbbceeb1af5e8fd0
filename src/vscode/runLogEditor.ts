/**
 * Recorded logs in the dashboard: a read-only custom editor (the default for
 * `.gradient-monitor/runs/*.jsonl`, an "Open With" choice for other tools' logs). The log streams in
 * with loadRun behind a cancellable progress notification; the page draws the partial run as it
 * grows, then shows the run's summary over every step and whatever could not be read, located.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadedStatus, loadingStatus, settleUnfinished } from '../dashboard/logStatus';
import { StoreRunSource } from '../dashboard/runSource';
import { DashboardSession } from '../dashboard/session';
import { FOLLOW_IDLE_MS, LogFollower } from '../logs/follow';
import { isRecordedRunLog } from '../logs/paths';
import { LoadedRun, loadRun } from '../runs/loadRun';
import { Run } from '../runs/runStore';
import { LOG_FILE_VIEW_TYPE, RUN_LOG_VIEW_TYPE } from '../shared/webviewProtocol';
import { connectDashboard } from './dashboard';
import { withLogProgress } from './logProgress';
import { alertSettings } from './settings';

/** The editor a log opens in: the default one for our own logs, the "Open With" one for the rest. */
export function runLogViewType(file: string): string {
  return isRecordedRunLog(file) ? RUN_LOG_VIEW_TYPE : LOG_FILE_VIEW_TYPE;
}

class RunLogEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly extensionUri: vscode.Uri) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const file = document.uri.fsPath;
    let run: Run | undefined;
    const source = new StoreRunSource({
      all: () => (run ? [run] : []),
      get: (id) => (run?.id === id ? run : undefined),
    });
    const abort = new AbortController();
    const session = connectDashboard(
      panel,
      this.extensionUri,
      source,
      (id) => (run?.id === id ? file : undefined),
      () => abort.abort(),
    );
    session.showLogStatus(loadingStatus(file));
    void this.load(file, session, source, abort.signal, (r) => (run = r));
  }

  private async load(
    file: string,
    session: DashboardSession,
    source: StoreRunSource,
    closed: AbortSignal,
    found: (run: Run) => void,
  ): Promise<void> {
    let partial: Run | undefined;
    const show = (r: Run | undefined): void => {
      if (!r) return;
      const first = partial !== r;
      partial = r;
      found(r);
      source.changed(r, first ? 'run' : 'steps');
    };
    try {
      const loaded = await loadWithProgress(file, closed, show);
      const status = loadedStatus(file, loaded); // before settling: the summary says 'unfinished'
      if (loaded.run) {
        show(loaded.run);
        settleUnfinished(loaded.run);
        source.changed(loaded.run, 'run'); // its clock and end state are final now
      }
      session.showLogStatus(status);
      if (loaded.run && loaded.read.format === 'gradient-monitor') await followAppends(file, loaded, source, closed);
    } catch (e) {
      if (closed.aborted) return;
      const cancelled = (e as Error).name === 'AbortError';
      const why = cancelled
        ? `loading was cancelled${partial ? `; the ${partial.stepCount.toLocaleString('en')} steps read until then are shown` : ''}`
        : (e as Error).message;
      session.showLogStatus(loadedStatus(file, undefined, why));
      if (!cancelled) void vscode.window.showErrorMessage(`Gradient Monitor could not read ${file}: ${why}`);
    }
  }
}

/**
 * Keeps drawing a log that is still being written (a run writing its own log, a shared folder):
 * appended lines are polled every second while the editor is open, a growing log's run counts as
 * live, and one left unchanged for a while settles as interrupted again (or ends with its run_end).
 */
async function followAppends(
  file: string,
  loaded: LoadedRun,
  source: StoreRunSource,
  closed: AbortSignal,
): Promise<void> {
  const run = loaded.run!;
  const follower = await LogFollower.afterCompleteLines(file, loaded.read.bytes, loaded.read.lines ?? 0);
  let lastGrowth = 0;
  const timer = setInterval(() => void poll(), 1000);
  closed.addEventListener('abort', () => clearInterval(timer));
  let polling = false;
  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      const before = run.state;
      const { messages, replaced } = await follower.poll((m) => run.applyOwn(m));
      if (replaced) clearInterval(timer);
      if (messages > 0) {
        lastGrowth = Date.now();
        if (before === 'interrupted' && run.state === 'interrupted') run.state = 'live';
        source.changed(run, run.state === before ? 'steps' : 'run');
      } else if (run.state === 'live' && lastGrowth > 0 && Date.now() - lastGrowth > FOLLOW_IDLE_MS) {
        settleUnfinished(run);
        source.changed(run, 'run');
      }
    } catch {
      clearInterval(timer); // the file went away: what was read stays on screen
    } finally {
      polling = false;
    }
  }
}

/**
 * Loads a log with loadRun behind a cancellable progress notification, handing over the partial run
 * as it grows. It stops when cancelled from the notification or when `closed` aborts (its viewer closed).
 */
export function loadWithProgress(
  file: string,
  closed: AbortSignal,
  onRun: (run: Run | undefined) => void,
): Thenable<LoadedRun> {
  return withLogProgress(`Loading ${path.basename(file)}`, file, (onProgress, signal) =>
    loadRun(file, {
      alerts: alertSettings(),
      signal: AbortSignal.any([signal, closed]),
      onProgress: (p) => {
        onProgress(p.bytes);
        onRun(p.run);
      },
    }),
  );
}

export function registerRunLogEditor(context: vscode.ExtensionContext): void {
  const provider = new RunLogEditorProvider(context.extensionUri);
  for (const viewType of [RUN_LOG_VIEW_TYPE, LOG_FILE_VIEW_TYPE]) {
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(viewType, provider, { supportsMultipleEditorsPerDocument: true }),
    );
  }
}
