/**
 * Tells the user when run logs cannot be written (disk full, folder removed or unwritable) and when
 * recording resumes. One pop-up per episode, however many runs are affected: a full disk fails
 * every live run at once, and one message per run would bury the window.
 */
import * as vscode from 'vscode';
import { Hub } from '../ingest/hub';

export function registerRecordingNotifier(
  context: vscode.ExtensionContext,
  hub: Hub,
  log: vscode.LogOutputChannel,
): void {
  const failing = new Set<string>();
  const onRecording = (runId: string, err: Error | undefined): void => {
    if (err) {
      log.error(
        `cannot write the log of run ${runId}: ${err.message}; steps are kept in memory and writing is retried`,
      );
      if (failing.size === 0) {
        void vscode.window.showErrorMessage(
          `Gradient Monitor cannot record run ${runId}: ${err.message}. Data is kept in memory and recording resumes when possible.`,
        );
      }
      failing.add(runId);
      return;
    }
    log.info(`recording of run ${runId} resumed`);
    if (failing.delete(runId) && failing.size === 0)
      void vscode.window.showInformationMessage('Gradient Monitor is recording again; nothing was lost.');
  };
  context.subscriptions.push(hub.subscribe('recording', onRecording));
}
