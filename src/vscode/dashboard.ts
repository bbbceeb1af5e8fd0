/** Placeholder dashboard panel until the chart webview lands (issue 4): shows the webview bundle. */
import * as vscode from 'vscode';

export function registerDashboard(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('gradientMonitor.openDashboard', () => {
      const panel = vscode.window.createWebviewPanel('gradientMonitor.dashboard', 'Gradient Monitor', vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist')],
      });
      const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview.js'));
      const nonce = Math.random().toString(36).slice(2);
      panel.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-${nonce}';"></head><body><div id="root"></div><script nonce="${nonce}" src="${script}"></script></body></html>`;
    }),
  );
}
