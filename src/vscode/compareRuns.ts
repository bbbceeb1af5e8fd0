/**
 * Compare Runs: a dashboard panel in compare mode that overlays the total norms of several runs,
 * aligned by step. From the Runs view (several rows selected, context menu) or the command palette
 * (a multi-pick of live and recorded runs). Live runs come from the Hub and keep updating; recorded
 * ones load with loadRun behind a cancellable progress notification and draw as they load.
 */
import * as vscode from 'vscode';
import { CompareMember, CompareSession } from '../dashboard/compareSession';
import { settleUnfinished } from '../dashboard/logStatus';
import { hubRunSource, RunSource, StoreRunSource } from '../dashboard/runSource';
import { buildRunsTreeModel, listRunFiles, LiveRunInfo, RunFile } from '../runs/runFiles';
import { Run } from '../runs/runStore';
import { COMPARE_VIEW_TYPE, MAX_COMPARED_RUNS } from '../shared/webviewProtocol';
import { servePage } from './dashboard';
import { Endpoint } from './endpoint';
import type { RunsNode } from './runsTree';
import { loadWithProgress } from './runLogEditor';
import { runFolders } from './runsTree';

/** A run to compare: a live run of the Hub, or a log file. */
type Target = { kind: 'live'; id: string; name: string } | { kind: 'file'; path: string; name: string };

function targetOf(node: RunsNode): Target | undefined {
  if (node.kind === 'live') return { kind: 'live', id: node.run.id, name: node.run.name };
  if (node.kind === 'file') return { kind: 'file', path: node.file.path, name: node.file.name };
  return undefined;
}

const keyOf = (t: Target): string => (t.kind === 'live' ? `live:${t.id}` : `file:${t.path}`);

export function registerCompareRuns(context: vscode.ExtensionContext, ep: Endpoint): void {
  const live = hubRunSource(ep.hub);
  context.subscriptions.push(
    live,
    vscode.commands.registerCommand('gradientMonitor.compareRuns', async (node?: RunsNode, selected?: RunsNode[]) => {
      const nodes = selected && selected.length > 0 ? selected : node ? [node] : [];
      let targets = nodes.flatMap((n) => targetOf(n) ?? []);
      // One run (or none) is not a comparison: ask which, with the given one ticked.
      if (targets.length < 2) targets = (await pickTargets(ep, targets.map(keyOf))) ?? [];
      if (targets.length === 0) return;
      if (targets.length > MAX_COMPARED_RUNS) {
        void vscode.window.showWarningMessage(
          `Gradient Monitor compares at most ${MAX_COMPARED_RUNS} runs at once; showing the first ${MAX_COMPARED_RUNS} of the ${targets.length} selected.`,
        );
        targets = targets.slice(0, MAX_COMPARED_RUNS);
      }
      openComparison(context.extensionUri, ep, live, targets);
    }),
  );
}

async function pickTargets(ep: Endpoint, preselected: string[]): Promise<Target[] | undefined> {
  const live: LiveRunInfo[] = ep.hub.store.all().map((r) => ({
    id: r.id,
    name: r.name,
    state: r.state,
    steps: r.stepCount,
    lastStep: r.lastStep,
    logPath: ep.hub.logPath(r.id),
  }));
  const model = buildRunsTreeModel(await listRunFiles(runFolders(ep)), live);
  type Item = vscode.QuickPickItem & { target: Target };
  const item = (target: Target, description: string, detail?: string): Item => ({
    label: target.name,
    description,
    detail,
    picked: preselected.includes(keyOf(target)),
    target,
  });
  const items: (Item | vscode.QuickPickItem)[] = [];
  if (model.live.length > 0) items.push({ label: 'Live', kind: vscode.QuickPickItemKind.Separator });
  for (const r of model.live)
    items.push(item({ kind: 'live', id: r.id, name: r.name }, `live · ${r.steps.toLocaleString('en-US')} steps`));
  for (const g of model.groups) {
    items.push({ label: g.label, kind: vscode.QuickPickItemKind.Separator });
    for (const f of g.files) items.push(item({ kind: 'file', path: f.path, name: f.name }, fileDescription(f), f.path));
  }
  const picked = await vscode.window.showQuickPick(items as Item[], {
    canPickMany: true,
    title: 'Compare Runs',
    placeHolder: 'Runs to overlay on one chart (two or more)',
    matchOnDescription: true,
  });
  return picked?.map((p) => p.target);
}

function fileDescription(f: RunFile): string {
  return new Date(f.firstTime ?? f.mtimeMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function openComparison(extensionUri: vscode.Uri, ep: Endpoint, live: RunSource, targets: Target[]): void {
  const title = `Compare: ${targets.map((t) => t.name).join(', ')}`;
  const panel = vscode.window.createWebviewPanel(
    COMPARE_VIEW_TYPE,
    title.length > 60 ? `${title.slice(0, 59)}…` : title,
    vscode.ViewColumn.Active,
    { enableFindWidget: false },
  );
  const loaded = new Map<string, Run>();
  const recorded = new StoreRunSource({ all: () => [...loaded.values()], get: () => undefined });
  const members: CompareMember[] = targets.map((t) => {
    const key = keyOf(t);
    return { key, run: t.kind === 'live' ? () => ep.hub.store.get(t.id) : () => loaded.get(key) };
  });
  const closed = new AbortController();
  servePage(
    panel,
    extensionUri,
    (post) => new CompareSession(members, [live, recorded], post),
    () => closed.abort(),
  );
  for (const t of targets) {
    if (t.kind === 'file') void loadMember(t.path, keyOf(t), loaded, recorded, closed.signal);
  }
}

/** Loads one recorded run into the comparison, drawing it as it grows; a failure names the file. */
async function loadMember(
  file: string,
  key: string,
  loaded: Map<string, Run>,
  source: StoreRunSource,
  closed: AbortSignal,
): Promise<void> {
  const show = (run: Run | undefined): void => {
    if (!run) return;
    loaded.set(key, run);
    source.changed(run);
  };
  try {
    const result = await loadWithProgress(file, closed, show);
    if (!result.run) {
      void vscode.window.showWarningMessage(`Gradient Monitor: ${file} holds no steps to compare.`);
      return;
    }
    settleUnfinished(result.run); // nothing streams into a log: an unended run is interrupted, not live
    show(result.run);
  } catch (e) {
    // Cancelled: the steps read until then stay in the comparison.
    if (closed.aborted || (e as Error).name === 'AbortError') return;
    void vscode.window.showErrorMessage(
      `Gradient Monitor could not read ${file} to compare it: ${(e as Error).message}`,
    );
  }
}
