/**
 * The dashboard's Reproduce action in the editor: the replay lines of a run's first non-finite
 * step (src/runs/replay.ts) in a new untitled Python document, ready to fill in and run.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { REPLAY_TEMPLATE, Replay, replayLines } from '../runs/replay';

export async function showReplay(extensionUri: vscode.Uri, replay: Replay): Promise<void> {
  try {
    const template = await readFile(vscode.Uri.joinPath(extensionUri, ...REPLAY_TEMPLATE).fsPath, 'utf8');
    const document = await vscode.workspace.openTextDocument({
      language: 'python',
      content: replayLines(template, replay),
    });
    // Beside the dashboard, which stays in view (a hidden panel drops its page).
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Gradient Monitor: cannot show the replay of step ${replay.step}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
