/**
 * Something that stops when disposed: a listener, a timer, a watcher. The shape of vscode.Disposable,
 * defined here so that the layers below src/vscode can hand one out without importing `vscode`, and
 * an extension can put it straight into `context.subscriptions`.
 */
export interface Disposable {
  dispose(): void;
}
