/** Extension entry point: wires the endpoint, the status bar, notifications and commands together. */
import * as vscode from 'vscode';
import { Endpoint, startEndpoint } from './endpoint';
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
import { registerInstallClient } from './installClient';
import { FollowedLogs } from '../ingest/followedLogs';
import { runFolders } from './runsTree';

let endpoint: Endpoint | undefined;
/** How often the run folders are looked at for logs that grew. */
const FOLLOW_POLL_MS = 1000;

export interface GradientMonitorApi {
  url: string;
  logDir: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<GradientMonitorApi | undefined> {
  const log = vscode.window.createOutputChannel('Gradient Monitor', { log: true });
  context.subscriptions.push(log);
  registerInstallClient(context); // useful even when the endpoint cannot start
  try {
    endpoint = await startEndpoint(context);
  } catch (e) {
    const msg = `Gradient Monitor could not start its endpoint: ${(e as Error).message}`;
    log.error(msg);
    void vscode.window.showErrorMessage(msg);
    return undefined;
  }
  const ep = endpoint;
  log.info(`listening on ${ep.url}; recording runs to ${ep.logDir}`);

  const statusBar = new NormStatusBar(() => ep.url);
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
  registerRunsView(context, ep);
  registerPythonFixes(context, ep.hub, log);
  registerRunLogEditor(context);
  registerCompareRuns(context, ep);
  // Runs that cannot reach this endpoint (cluster jobs) write their logs into the Runs view's folders: followed through the hub.
  const followed = new FollowedLogs(ep.hub, () => runFolders(ep));
  const following = setInterval(
    () => followed.poll().catch((e: Error) => log.warn(`following run logs: ${e.message}`)),
    FOLLOW_POLL_MS,
  );
  context.subscriptions.push({ dispose: () => clearInterval(following) });
  return { url: ep.url, logDir: ep.logDir };
}

export async function deactivate(): Promise<void> {
  await endpoint?.dispose();
  endpoint = undefined;
}
