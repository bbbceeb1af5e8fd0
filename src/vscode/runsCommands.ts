/** The Runs view's actions: open, reveal, export CSV, delete, import other tools' logs, add a folder. */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { importIntoFolder } from '../importers/convert';
import { OutputExistsError } from '../logs/atomicWrite';
import { exportLogToCsv } from '../importers/csvExport';
import { describeReadProblems } from '../logs/problems';
import { Endpoint } from './endpoint';
import { withLogProgress } from './logProgress';
import { runLogViewType } from './runLogEditor';
import type { RunsNode, RunsTreeProvider } from './runsTree';
import { SECTION } from './settings';

/** The file behind a node, for the actions that work on files. */
function fileOf(node: RunsNode | undefined): { path: string; name: string } | undefined {
  if (node?.kind === 'file') return { path: node.file.path, name: node.file.name };
  if (node?.kind === 'live') return { path: node.run.logPath, name: node.run.name };
  return undefined;
}

/** Opens a run's log in the dashboard's read-only log editor. */
export async function openRunLog(file: string): Promise<void> {
  await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), runLogViewType(file));
}

export function registerRunsCommands(context: vscode.ExtensionContext, ep: Endpoint, provider: RunsTreeProvider): void {
  const command = (id: string, run: (...args: never[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  };

  command('gradientMonitor.runs.refresh', () => provider.refresh());

  command('gradientMonitor.runs.open', async (node?: RunsNode) => {
    const f = fileOf(node);
    if (f) await openRunLog(f.path);
  });

  command('gradientMonitor.runs.reveal', async (node?: RunsNode) => {
    const f = fileOf(node);
    if (f) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(f.path));
  });

  command('gradientMonitor.runs.exportCsv', async (node?: RunsNode) => {
    const f = fileOf(node);
    if (!f) return;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(f.path));
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(folder, `${f.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.csv`),
      filters: { CSV: ['csv'] },
      saveLabel: 'Export',
    });
    if (!target) return;
    try {
      // The save dialog has already asked before replacing a file.
      const result = await withLogProgress(`Exporting ${f.name} to CSV`, f.path, (onProgress, signal) =>
        exportLogToCsv(f.path, target.fsPath, { overwrite: true, onProgress, signal }),
      );
      const problems = describeReadProblems(f.path, result.read.problems);
      const message = `Exported ${result.rows.toLocaleString('en-US')} steps of ${f.name} to ${target.fsPath}.`;
      const choice = await (problems
        ? vscode.window.showWarningMessage(`${message} Some of the log could not be read: ${problems}`, 'Open')
        : vscode.window.showInformationMessage(message, 'Open'));
      if (choice === 'Open') await vscode.commands.executeCommand('vscode.open', target);
    } catch (e) {
      if ((e as Error).name !== 'AbortError')
        void vscode.window.showErrorMessage(`Gradient Monitor could not export ${f.name}: ${(e as Error).message}`);
    }
  });

  command('gradientMonitor.runs.delete', async (node?: RunsNode, selected?: RunsNode[]) => {
    // With several rows selected, the action applies to all of them (our own logs only).
    const files = (selected && selected.length > 0 ? selected : node ? [node] : []).flatMap((n) =>
      n.kind === 'file' && n.file.format === 'gradient-monitor' ? [n.file] : [],
    );
    if (files.length === 0) return;
    const what = files.length === 1 ? `the log of run "${files[0].name}"` : `the logs of ${files.length} runs`;
    const detail = `${files.map((f) => f.path).join('\n')}\n\nThis cannot be undone.`;
    const choice = await vscode.window.showWarningMessage(`Delete ${what}?`, { modal: true, detail }, 'Delete');
    if (choice !== 'Delete') return;
    for (const f of files) {
      try {
        await rm(f.path);
      } catch (e) {
        void vscode.window.showErrorMessage(`Gradient Monitor could not delete ${f.path}: ${(e as Error).message}`);
      }
    }
    await provider.refresh();
  });

  // From the Explorer's context menu with the file or folder clicked; from the Runs view, asking which.
  command('gradientMonitor.runs.import', async (clicked?: vscode.Uri) => {
    const picked = clicked ? [clicked] : await pickLogsToImport();
    if (!picked) return;
    let first: string | undefined;
    for (const uri of picked) {
      const out = await importOne(uri.fsPath, ep.logDir);
      first ??= out;
    }
    await provider.refresh();
    if (first) await openRunLog(first);
  });

  command('gradientMonitor.runs.addFolder', async () => {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Show Runs from This Folder',
    });
    if (!picked?.[0]) return;
    const config = vscode.workspace.getConfiguration(SECTION);
    const folders = config.get<string[]>('runFolders', []);
    if (folders.includes(picked[0].fsPath)) return;
    const target = vscode.workspace.workspaceFolders
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
    await config.update('runFolders', [...folders, picked[0].fsPath], target);
  });
}

/** Log files, or a folder of TensorBoard events: one dialog cannot offer both outside macOS. */
async function pickLogsToImport(): Promise<vscode.Uri[] | undefined> {
  const kind = await vscode.window.showQuickPick(
    [
      {
        label: 'Log files...',
        detail:
          'trainer_state.json, TensorBoard event files, Lightning metrics.csv, W&B history (CSV, JSON lines) or chart CSV exports, CSV',
        folder: false,
      },
      { label: 'A TensorBoard run folder...', detail: 'every event file in it, as one run', folder: true },
    ],
    { title: 'Import into Gradient Monitor' },
  );
  if (!kind) return undefined;
  return vscode.window.showOpenDialog({
    canSelectMany: !kind.folder,
    canSelectFiles: !kind.folder,
    canSelectFolders: kind.folder,
    openLabel: 'Import',
    title: kind.folder ? 'Import a TensorBoard run folder' : 'Import logs',
    filters: kind.folder ? undefined : { 'Training logs': ['json', 'csv', 'jsonl', 'ndjson'], 'All files': ['*'] },
  });
}

/**
 * Imports one log (a file or a folder of event files) into the runs folder, asking before replacing
 * an earlier import; returns the new log, if any.
 */
async function importOne(source: string, folder: string): Promise<string | undefined> {
  const name = path.basename(source);
  const attempt = (overwrite: boolean) =>
    withLogProgress(`Importing ${name}`, source, (onProgress, signal) =>
      importIntoFolder(source, folder, { overwrite, onProgress, signal }),
    );
  try {
    let result;
    try {
      result = await attempt(false);
    } catch (e) {
      if (!(e instanceof OutputExistsError)) throw e;
      const choice = await vscode.window.showWarningMessage(
        `${name} was imported before. Replace that import?`,
        { modal: true, detail: e.file },
        'Replace',
      );
      if (choice !== 'Replace') return undefined;
      result = await attempt(true);
    }
    const problems = describeReadProblems(source, result.read.problems);
    const summary = `Imported ${result.steps.toLocaleString('en-US')} steps of "${result.name}".`;
    const notes = result.read.notes.length > 0 ? ` ${result.read.notes.join('. ')}.` : '';
    if (problems)
      void vscode.window.showWarningMessage(`${summary} Everything readable was kept; the problems: ${problems}`);
    else void vscode.window.showInformationMessage(summary + notes);
    return result.out;
  } catch (e) {
    if ((e as Error).name !== 'AbortError')
      void vscode.window.showErrorMessage(`Gradient Monitor could not import ${source}: ${(e as Error).message}`);
    return undefined;
  }
}
