/** The status bar item: the latest total norm of the most recently active run, colored by its state. */
import * as vscode from 'vscode';
import { Alert } from '../alerts/rules';
import { fmt } from '../shared/format';
import { Run } from '../runs/runStore';

type Health = 'ok' | 'warning' | 'error';

export class NormStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly health = new Map<string, Health>();
  private current?: Run;
  private pending?: NodeJS.Timeout;

  constructor(private readonly endpointState: () => string) {
    this.item = vscode.window.createStatusBarItem('gradientMonitor.norm', vscode.StatusBarAlignment.Left, 100);
    this.item.name = 'Gradient Monitor';
    this.item.command = 'gradientMonitor.openDashboard';
    this.render();
    this.item.show();
  }

  /** Coalesced: steps may arrive thousands of times a second, the item repaints at most 5 times a second. */
  onSteps(run: Run): void {
    this.current = run;
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.render();
    }, 200);
  }

  onAlert(alert: Alert, run: Run): void {
    const level: Health = alert.severity === 'error' ? 'error' : 'warning';
    if (level === 'error' || this.health.get(run.id) !== 'error') this.health.set(run.id, level);
    this.current = run;
    this.render();
  }

  onRun(run: Run): void {
    this.current ??= run;
    if (run === this.current) this.render();
  }

  render(): void {
    const run = this.current;
    if (!run) {
      this.item.text = '$(pulse) grad: waiting';
      this.item.tooltip = `Gradient Monitor is ${this.endpointState()}\nNo run yet.`;
      this.item.backgroundColor = undefined;
      return;
    }
    const health = this.health.get(run.id) ?? 'ok';
    const icon = health === 'error' ? '$(error)' : health === 'warning' ? '$(warning)' : '$(pulse)';
    const value = run.lastTotal !== undefined ? fmt(run.lastTotal) : run.lastStep >= 0 ? 'not logged' : '…';
    this.item.text = `${icon} grad ${value}`;
    this.item.backgroundColor =
      health === 'ok'
        ? undefined
        : new vscode.ThemeColor(
            health === 'error' ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground',
          );
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = false; // run names come from the network
    md.appendText(
      `${run.name} (${run.state})\nstep ${Math.max(run.lastStep, 0)}, total norm ${value}, ${run.alertCount} alerts\n`,
    );
    md.appendText(`Gradient Monitor is ${this.endpointState()}\nClick to open the dashboard.`);
    this.item.tooltip = md;
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.item.dispose();
  }
}
