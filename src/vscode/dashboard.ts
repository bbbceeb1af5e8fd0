/**
 * The dashboard panel: one webview (webview/main.ts) fed by a DashboardSession over the live Hub.
 * Hidden panels drop their page (no retainContextWhenHidden: a chart of a million steps is not
 * kept in memory for nothing); the page restores its view from webview state, and a serializer
 * brings the panel back after a VS Code restart, re-attaching to its run once it streams again.
 */
import * as vscode from 'vscode';
import { dashboardHtml, newNonce } from '../dashboard/html';
import { hubRunSource, RunSource } from '../dashboard/runSource';
import { DashboardSession } from '../dashboard/session';
import { Hub } from '../ingest/hub';
import { DASHBOARD_VIEW_TYPE, DashboardState } from '../shared/webviewProtocol';

class DashboardPanel {
  readonly session: DashboardSession;

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    source: RunSource,
    runId: string | undefined,
    onDispose: () => void,
  ) {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')] };
    const uri = (...parts: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
    this.session = new DashboardSession(source, (message) => void webview.postMessage(message));
    this.session.select(runId);
    const subscriptions = [
      webview.onDidReceiveMessage((m) => this.session.handle(m)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.session.detach(); // the page is gone; it says `ready` when shown again
      }),
    ];
    panel.onDidDispose(() => {
      this.session.dispose();
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
  }
}

export function registerDashboard(context: vscode.ExtensionContext, hub: Hub): void {
  const source = hubRunSource(hub);
  let current: DashboardPanel | undefined;
  const attach = (panel: vscode.WebviewPanel, runId: string | undefined): DashboardPanel => {
    const p = new DashboardPanel(panel, context.extensionUri, source, runId, () => {
      if (current === p) current = undefined;
    });
    current = p;
    return p;
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
