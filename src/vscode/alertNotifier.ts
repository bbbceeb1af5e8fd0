/** Turns alerts into log lines (every one) and rate-limited notifications with actions. */
import * as vscode from 'vscode';
import { NotificationGate } from '../alerts/rateLimit';
import { Alert } from '../alerts/rules';
import { Run } from '../runs/runStore';
import { notificationSettings } from './settings';

export class AlertNotifier {
  private readonly gate: NotificationGate;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.gate = new NotificationGate(notificationSettings().intervalSeconds * 1000);
  }

  mute(runId: string): void {
    this.gate.mute(runId);
    this.log.info(`notifications muted for run ${runId}`);
  }

  onAlert(alert: Alert, run: Run): void {
    const line = `${run.name} [${alert.kind}] ${alert.message}`;
    if (alert.severity === 'error') this.log.error(line);
    else this.log.warn(line);
    const settings = notificationSettings();
    if (!settings.enabled) return;
    this.gate.setInterval(settings.intervalSeconds * 1000);
    const held = this.gate.admit(alert);
    if (held === undefined) return;
    const more = held > 0 ? ` (${held} similar alerts since the last notice)` : '';
    const text = `Gradient Monitor: ${run.name}: ${alert.message}${more}`;
    const show = alert.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    void show(text, 'Open Dashboard', 'Mute this run').then((choice) => {
      if (choice === 'Open Dashboard') void vscode.commands.executeCommand('gradientMonitor.openDashboard', run.id);
      else if (choice === 'Mute this run') this.mute(run.id);
    });
  }
}
