/**
 * The dashboard panel: one webview (webview/main.ts) fed by a DashboardSession over the live Hub.
 * Hidden panels drop their page (no retainContextWhenHidden: a chart of a million steps is not
 * kept in memory for nothing); the page restores its view from webview state, and a serializer
 * brings the panel back after a VS Code restart, re-attaching to its run once it streams again.
 * `connectDashboard` is shared with the recorded-log editor (runLogEditor.ts) and `servePage` with the
 * compare panel (compareRuns.ts): one page for all of them.
 */
import * as vscode from 'vscode';
import { dashboardHtml, newNonce } from '../dashboard/html';
import { hubRunSource, RunSource } from '../dashboard/runSource';
import { DashboardSession } from '../dashboard/session';
import { Hub } from '../ingest/hub';
import { DASHBOARD_VIEW_TYPE, DashboardState, HostMessage } from '../shared/webviewProtocol';
import { saveExport } from './dashboardExport';
import { showReplay } from './showReplay';

/** What serves a dashboard page: a single-run DashboardSession or a CompareSession. */
export interface PageSession {
  handle(message: unknown): void;
  /** The page is gone (panel hidden); it says `ready` again when shown. */
  detach(): void;
  dispose(): void;
}

/**
 * Serves the dashboard page in a webview panel and connects it to the session `create` makes.
 * Everything is released with the panel.
 */
export function servePage<S extends PageSession>(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  create: (post: (message: HostMessage) => void) => S,
  onDispose: () => void = () => undefined,
): S {
  const webview = panel.webview;
  webview.options = {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
  const uri = (...parts: string[]): string =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const session = create((message) => void webview.postMessage(message));
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

/** A single-run dashboard over `source`; `logFileOf` names the log a run's CSV export reads. */
export function connectDashboard(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  source: RunSource,
  logFileOf: (runId: string) => string | undefined,
  onDispose: () => void = () => undefined,
): DashboardSession {
  return servePage(
    panel,
    extensionUri,
    (post) =>
      new DashboardSession(source, post, {
        onExport: (request) =>
          void saveExport(request, source.get(request.runId)?.name ?? request.runId, logFileOf(request.runId)),
        onReproduce: (replay) => void showReplay(extensionUri, replay),
      }),
    onDispose,
  );
}

export function registerDashboard(context: vscode.ExtensionContext, hub: Hub): void {
  const source = hubRunSource(hub);
  let current: { panel: vscode.WebviewPanel; session: DashboardSession } | undefined;
  const attach = (panel: vscode.WebviewPanel, runId: string | undefined): void => {
    const session = connectDashboard(
      panel,
      context.extensionUri,
      source,
      (id) => hub.logPath(id),
      () => {
        if (current?.panel === panel) current = undefined;
      },
    );
    session.select(runId);
    current = { panel, session };
  };

  context.subscriptions.push(
    source,
    vscode.commands.registerCommand('gradientMonitor.openDashboard', (runId?: unknown) => {
      const id = typeof runId === 'string' ? runId : undefined;
      if (current) {
        current.panel.reveal();
        if (id !== undefined) current.session.select(id);
        return;
      }
      attach(
        vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Gradient Monitor', vscode.ViewColumn.Active, {
          enableFindWidget: false,
        }),
        id,
      );
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const runId = (state as DashboardState | undefined)?.runId;
        attach(panel, typeof runId === 'string' ? runId : undefined);
      },
    }),
  );
}
