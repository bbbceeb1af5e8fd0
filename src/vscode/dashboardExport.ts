/**
 * Saves what a dashboard shows, through a save dialog: the visible steps as CSV (at full
 * resolution, read from the run's log with csvExport.ts) or the chart as the PNG the page drew.
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportLogToCsv } from '../importers/csvExport';
import { describeReadProblems } from '../logs/problems';
import { ExportMessage, PNG_DATA_URL_PREFIX } from '../shared/webviewProtocol';
import { withLogProgress } from './logProgress';

export async function saveExport(request: ExportMessage, runName: string, logFile: string | undefined): Promise<void> {
  const base = runName.replace(/[^A-Za-z0-9._-]+/g, '_') || 'run';
  const folder =
    vscode.workspace.workspaceFolders?.[0]?.uri ?? (logFile ? vscode.Uri.file(path.dirname(logFile)) : undefined);
  const suggest = (name: string): vscode.Uri | undefined => (folder ? vscode.Uri.joinPath(folder, name) : undefined);
  try {
    if (request.type === 'exportPng') {
      const target = await vscode.window.showSaveDialog({
        defaultUri: suggest(`${base}.png`),
        filters: { 'PNG image': ['png'] },
        saveLabel: 'Save Chart',
      });
      if (!target) return;
      await writeFile(target.fsPath, Buffer.from(request.dataUrl.slice(PNG_DATA_URL_PREFIX.length), 'base64'));
      void vscode.window.showInformationMessage(`Saved the chart of ${runName} to ${target.fsPath}.`);
      return;
    }
    if (!logFile) {
      void vscode.window.showErrorMessage(`Gradient Monitor has no log of run ${runName} to export.`);
      return;
    }
    const from = Math.ceil(request.from);
    const to = Math.floor(request.to);
    const target = await vscode.window.showSaveDialog({
      defaultUri: suggest(`${base}-steps-${from}-${to}.csv`),
      filters: { CSV: ['csv'] },
      saveLabel: 'Export',
    });
    if (!target) return;
    // The save dialog has already asked before replacing a file.
    const result = await withLogProgress(
      `Exporting steps ${from} to ${to} of ${runName}`,
      logFile,
      (onProgress, signal) =>
        exportLogToCsv(logFile, target.fsPath, { overwrite: true, steps: { from, to }, onProgress, signal }),
    );
    const problems = describeReadProblems(logFile, result.read.problems);
    const message = `Exported ${result.rows.toLocaleString('en-US')} steps (${from} to ${to}) of ${runName} to ${target.fsPath}.`;
    void (problems
      ? vscode.window.showWarningMessage(`${message} Some of the log could not be read: ${problems}`)
      : vscode.window.showInformationMessage(message));
  } catch (e) {
    if ((e as Error).name !== 'AbortError')
      void vscode.window.showErrorMessage(`Gradient Monitor could not export ${runName}: ${(e as Error).message}`);
  }
}
