/** Commands for runs and the endpoint: pick a run, mute it, copy the connection settings, show the log. */
import * as vscode from 'vscode';
import { fmt } from '../shared/format';
import { Run } from '../runs/runStore';
import { AlertNotifier } from './alertNotifier';
import { Endpoint } from './endpoint';

export function registerRunCommands(
  context: vscode.ExtensionContext,
  ep: Endpoint,
  notifier: AlertNotifier,
  log: vscode.LogOutputChannel,
): void {
  const pickRun = async (placeHolder: string): Promise<Run | undefined> => {
    const runs = ep.hub.store.all().sort((a, b) => b.updatedAt - a.updatedAt);
    if (runs.length === 0) {
      void vscode.window.showInformationMessage(
        ep.url
          ? `No runs yet. Stream one to ${ep.url} (see "Gradient Monitor: Copy Endpoint").`
          : `No runs yet. The endpoint is ${ep.describe()}.`,
      );
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      runs.map((r) => ({
        label: r.name,
        description: `${r.state} · ${r.stepCount} steps · ${r.alertCount} alerts`,
        detail:
          r.lastTotal !== undefined
            ? `latest norm ${fmt(r.lastTotal)} at step ${r.lastStep}`
            : `no gradient norm logged; latest step ${r.lastStep}`,
        run: r,
      })),
      { placeHolder },
    );
    return picked?.run;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('gradientMonitor.showRuns', async () => {
      const run = await pickRun('Open the log of a run');
      if (run) await vscode.window.showTextDocument(vscode.Uri.file(ep.hub.logPath(run.id)), { preview: true });
    }),
    vscode.commands.registerCommand('gradientMonitor.muteRun', async (runId?: string) => {
      const id = typeof runId === 'string' ? runId : (await pickRun('Mute notifications of a run'))?.id;
      if (id) notifier.mute(id);
    }),
    vscode.commands.registerCommand('gradientMonitor.copyEndpoint', async () => {
      const c = ep.connection();
      if (!c) {
        void vscode.window.showWarningMessage(`Gradient Monitor: the endpoint is ${ep.describe()}.`);
        return;
      }
      await vscode.env.clipboard.writeText(
        `export GRADIENT_MONITOR_URL=${c.url}\nexport GRADIENT_MONITOR_TOKEN=${c.token}\n`,
      );
      void vscode.window.showInformationMessage(
        'Gradient Monitor: export lines for the endpoint URL and token copied to the clipboard.',
      );
    }),
    vscode.commands.registerCommand('gradientMonitor.showOutput', () => log.show()),
  );
}
