/** A cancellable progress notification for reading a log (loading, importing, exporting), in percent of its bytes. */
import * as vscode from 'vscode';
import { logSourceBytes } from '../importers/readLog';

export function withLogProgress<T>(
  title: string,
  file: string,
  work: (onProgress: (bytes: number) => void, signal: AbortSignal) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const total = Math.max(1, await logSourceBytes(file));
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      let reported = 0;
      const onProgress = (bytes: number): void => {
        const percent = Math.min(100, (100 * bytes) / total);
        progress.report({
          increment: percent - reported,
          message: `${(bytes / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB`,
        });
        reported = percent;
      };
      return work(onProgress, controller.signal);
    },
  );
}
