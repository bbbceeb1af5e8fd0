/** Turns alerts into log lines (every one) and rate-limited notifications with actions, one per step. */
import * as vscode from 'vscode';
import { AdmittedAlert, composeNotice } from '../alerts/notice';
import { NotificationGate } from '../alerts/rateLimit';
import { Alert } from '../alerts/rules';
import { Run } from '../runs/runStore';
import { notificationSettings } from './settings';

export class AlertNotifier {
  private readonly gate: NotificationGate;
  /** Admitted alerts of the current event-loop turn, grouped by run and step. */
  private pending = new Map<string, { run: Run; items: AdmittedAlert[] }>();
  private flushScheduled = false;

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
    // A step's alerts arrive together (one ingest); gather them into one notification.
    const key = `${run.id}\u0000${alert.step}`;
    const group = this.pending.get(key) ?? { run, items: [] };
    group.items.push({ alert, held });
    this.pending.set(key, group);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    const groups = this.pending;
    this.pending = new Map();
    this.flushScheduled = false;
    for (const { run, items } of groups.values()) {
      const notice = composeNotice(run.name, items);
      const show = notice.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
      void show(notice.text, 'Open Dashboard', 'Mute this run').then((choice) => {
        if (choice === 'Open Dashboard') void vscode.commands.executeCommand('gradientMonitor.openDashboard', run.id);
        else if (choice === 'Mute this run') this.mute(run.id);
      });
    }
  }
}
