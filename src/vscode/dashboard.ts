/**
 * The dashboard panel: one webview (webview/main.ts) fed by a DashboardSession over the live Hub.
 * Hidden panels drop their page (no retainContextWhenHidden: a chart of a million steps is not
 * kept in memory for nothing); the page restores its view from webview state, and a serializer
 * brings the panel back after a VS Code restart, re-attaching to its run once it streams again.
 * `connectDashboard` is shared with the recorded-log editor (runLogEditor.ts): one page, one session type.
 */
import * as vscode from 'vscode';
import { dashboardHtml, newNonce } from '../dashboard/html';
import { hubRunSource, RunSource } from '../dashboard/runSource';
import { DashboardSession } from '../dashboard/session';
import { Hub } from '../ingest/hub';
import { DASHBOARD_VIEW_TYPE, DashboardState } from '../shared/webviewProtocol';
import { saveExport } from './dashboardExport';

/**
 * Serves the dashboard page in a webview panel and connects it to a session over `source`;
 * `logFileOf` names the log a run's CSV export reads. Everything is released with the panel.
 */
export function connectDashboard(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  source: RunSource,
  logFileOf: (runId: string) => string | undefined,
  onDispose: () => void = () => undefined,
): DashboardSession {
  const webview = panel.webview;
  webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')] };
  const uri = (...parts: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const session = new DashboardSession(source, (message) => void webview.postMessage(message), {
    onExport: (request) => void saveExport(request, source.get(request.runId)?.name ?? request.runId, logFileOf(request.runId)),
  });
  const subscriptions = [
    webview.onDidReceiveMessage((m) => session.handle(m)),
    panel.onDidChangeViewState(() => {
      if (!panel.visible) session.detach(); // the page is gone; it says `ready` when shown again
    }),
  ];
  panel.onDidDispose(() => {
    session.dispose();
    subscriptions.forEach((s) => s.dispose());
    onDispose();
  });
  webview.html = dashboardHtml({
    cspSource: webview.cspSource,
    nonce: newNonce(),
    scriptUri: uri('dist', 'webview.js'),
    styleUri: uri('media', 'dashboard.css'),
    codiconsUri: uri('dist', 'codicon.css'),
  });
  return session;
}

export function registerDashboard(context: vscode.ExtensionContext, hub: Hub): void {
  const source = hubRunSource(hub);
  let current: { panel: vscode.WebviewPanel; session: DashboardSession } | undefined;
  const attach = (panel: vscode.WebviewPanel, runId: string | undefined): void => {
    const session = connectDashboard(panel, context.extensionUri, source, (id) => hub.logPath(id), () => {
      if (current?.panel === panel) current = undefined;
    });
    session.select(runId);
    current = { panel, session };
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('gradientMonitor.openDashboard', (runId?: unknown) => {
      const id = typeof runId === 'string' ? runId : undefined;
      if (current) {
        current.panel.reveal();
        if (id !== undefined) current.session.select(id);
        return;
      }
      attach(vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Gradient Monitor', vscode.ViewColumn.Active, { enableFindWidget: false }), id);
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const runId = (state as DashboardState | undefined)?.runId;
        attach(panel, typeof runId === 'string' ? runId : undefined);
      },
    }),
  );
}
