/**
 * The commands behind the Get Started walkthrough (package.json `contributes.walkthroughs`,
 * media/walkthrough/*.md): stream a demo run into this window, and add monitoring to the active
 * training script.
 */
import * as vscode from 'vscode';
import { simulate } from '../cli/simulate';
import { Analyses } from './pythonFixes';
import { Endpoint } from './endpoint';

/** The lines a script needs when no training step is found to place them for it. */
const MONITOR_LINES =
  'from gradient_monitor import Monitor\nmonitor = Monitor().watch(model)  # then monitor.step(loss=loss) after each backward()\n';

export function registerWalkthrough(context: vscode.ExtensionContext, ep: Endpoint, analyses: Analyses): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('gradientMonitor.runDemo', async () => {
      const c = ep.connection();
      if (!c) {
        void vscode.window.showWarningMessage(`Gradient Monitor: the endpoint is ${ep.describe()}.`);
        return;
      }
      const runId = `demo-${Date.now().toString(36)}`;
      // A spike, then a NaN: both warnings, a few seconds apart.
      const demo = simulate({ ...c, runId, name: 'demo run', steps: 600, rate: 60, spikeAt: 250, nanAt: 520 });
      await vscode.commands.executeCommand('gradientMonitor.openDashboard', runId);
      try {
        await demo;
      } catch (e) {
        void vscode.window.showErrorMessage(`Gradient Monitor: the demo run failed: ${(e as Error).message}`);
      }
    }),
    vscode.commands.registerCommand('gradientMonitor.addMonitoring', async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== 'python') {
        void vscode.window.showInformationMessage('Gradient Monitor: open a Python training script first.');
        return;
      }
      await addMonitoring(editor, analyses);
    }),
  );
}

/**
 * Where the analysis finds a PyTorch training step, the monitor goes where it belongs (set up
 * before the loop, reporting before the step); elsewhere the two lines go at the start of the
 * cursor's line (the top of a file just opened).
 */
async function addMonitoring(editor: vscode.TextEditor, analyses: Analyses): Promise<void> {
  const doc = editor.document;
  const analysis = await analyses.of(doc);
  const fix = analysis.syntaxError
    ? undefined
    : analysis.sites.map((s) => analysis.safe(s.addMonitoring?.())).find((f) => f !== undefined);
  if (fix) {
    const edit = new vscode.WorkspaceEdit();
    for (const e of analysis.editsFor([fix]))
      edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.text);
    await vscode.workspace.applyEdit(edit);
    return;
  }
  const at = new vscode.Position(editor.selection.active.line, 0);
  await editor.edit((b) => b.insert(at, MONITOR_LINES));
}
