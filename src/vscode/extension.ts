/** Extension entry point: wires the endpoint, the status bar, notifications and commands together. */
import * as vscode from 'vscode';
import { Endpoint } from './endpoint';
import { AlertNotifier } from './alertNotifier';
import { NormStatusBar } from './statusBar';
import { dashboardSettings } from './settings';
import { registerRunCommands } from './runCommands';
import { registerDashboard } from './dashboard';
import { registerRecordingNotifier } from './recordingNotifier';
import { registerRunsView } from './runsView';
import { registerPythonFixes } from './pythonFixes';
import { registerRunLogEditor } from './runLogEditor';
import { registerCompareRuns } from './compareRuns';
import { registerLiveSettings } from './liveSettings';
import { registerScriptLens } from './scriptLens';
import { registerWalkthrough } from './walkthrough';
import { registerInstallClient } from './installClient';
import { FollowedLogs } from '../ingest/followedLogs';
import { runFolders } from './runsTree';

let endpoint: Endpoint | undefined;
/** How often the run folders are looked at for logs that grew. */
const FOLLOW_POLL_MS = 1000;

export interface GradientMonitorApi {
  /** The stream URL; undefined until the workspace is trusted or when the endpoint could not start. */
  url: string | undefined;
  logDir: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<GradientMonitorApi> {
  const log = vscode.window.createOutputChannel('Gradient Monitor', { log: true });
  context.subscriptions.push(log);
  registerInstallClient(context);
  const ep = new Endpoint(context);
  endpoint = ep;

  const statusBar = new NormStatusBar(() => ep.describe());
  context.subscriptions.push(ep.onDidChange(() => statusBar.render()));
  const notifier = new AlertNotifier(log);
  context.subscriptions.push(statusBar);
  const revealed = new Set<string>();
  context.subscriptions.push(
    ep.hub.subscribe('steps', (run) => statusBar.onSteps(run)),
    ep.hub.subscribe('run', (run) => {
      statusBar.onRun(run);
      if (run.state === 'live' && !revealed.has(run.id) && dashboardSettings().openOnRunStart) {
        revealed.add(run.id);
        void vscode.commands.executeCommand('gradientMonitor.openDashboard', run.id);
      }
      log.info(`run ${run.name} (${run.id}): ${run.state}${run.endMessage ? `: ${run.endMessage}` : ''}`);
    }),
    ep.hub.subscribe('alert', (alert, run) => {
      statusBar.onAlert(alert, run);
      notifier.onAlert(alert, run);
    }),
  );
  registerRecordingNotifier(context, ep.hub, log);
  registerRunCommands(context, ep, notifier, log);
  registerDashboard(context, ep.hub);
  const runsView = registerRunsView(context, ep);
  const analyses = registerPythonFixes(context, ep.hub, log);
  registerScriptLens(context, analyses, ep.hub, runsView);
  registerWalkthrough(context, ep, analyses);
  registerRunLogEditor(context);
  registerCompareRuns(context, ep);

  const listen = async (): Promise<void> => {
    try {
      const url = await ep.start();
      log.info(`listening on ${url}; recording runs to ${ep.logDir}`);
    } catch (e) {
      const msg = `Gradient Monitor could not start its endpoint: ${(e as Error).message}`;
      log.error(msg);
      void vscode.window.showErrorMessage(msg);
    }
  };
  registerLiveSettings(context, ep, listen);
  // Runs that cannot reach the endpoint (cluster jobs) write logs into the Runs view's folders: followed by the hub.
  const followed = new FollowedLogs(ep.hub, () => runFolders(ep));
  const follow = (): void => {
    const timer = setInterval(
      () => followed.poll().catch((e: Error) => log.warn(`following run logs: ${e.message}`)),
      FOLLOW_POLL_MS,
    );
    context.subscriptions.push({ dispose: () => clearInterval(timer) });
  };
  // Streams write run logs into the workspace: an untrusted one gets no endpoint until it is trusted.
  if (vscode.workspace.isTrusted) {
    follow();
    await listen();
  } else {
    log.info('the endpoint and run recording stay off until this workspace is trusted');
    context.subscriptions.push(
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        follow();
        void listen();
      }),
    );
  }
  return { url: ep.url, logDir: ep.logDir };
}

export async function deactivate(): Promise<void> {
  await endpoint?.dispose();
  endpoint = undefined;
}
