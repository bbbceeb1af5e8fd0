/** The Runs view wired up: its tree, what refreshes it (runs, steps, the folders setting) and its actions. */
import * as vscode from 'vscode';
import { Endpoint } from './endpoint';
import { registerRunsCommands } from './runsCommands';
import { RunsTreeProvider } from './runsTree';
import { SECTION } from './settings';

export const RUNS_VIEW_ID = 'gradientMonitor.runs';

/** Returns the tree, whose listing of recorded logs the CodeLens reads too. */
export function registerRunsView(context: vscode.ExtensionContext, ep: Endpoint): RunsTreeProvider {
  const provider = new RunsTreeProvider(ep);
  const view = vscode.window.createTreeView(RUNS_VIEW_ID, {
    treeDataProvider: provider,
    canSelectMany: true,
    showCollapseAll: true,
  });
  context.subscriptions.push(
    provider,
    view,
    ep.hub.subscribe('run', () => provider.onRunChanged()),
    ep.hub.subscribe('steps', () => provider.onSteps()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.runFolders`)) provider.onFoldersChanged();
    }),
  );
  registerRunsCommands(context, ep, provider);
  void provider.refresh();
  return provider;
}
