/**
 * The Runs view: live runs from this window's endpoint, and recorded runs from the workspace's
 * runs folder and any folder the user adds, grouped by day. The listing and grouping live in
 * src/runs/runFiles.ts; this file only draws them and keeps them fresh.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LOG_FORMAT_NAMES, LOG_FORMAT_SHORT_NAMES } from '../importers/types';
import { Run } from '../runs/runStore';
import { buildRunsTreeModel, DateGroup, listRunFiles, LiveRunInfo, RunFile, RunsTreeModel } from '../runs/runFiles';
import { Endpoint } from './endpoint';
import { SECTION } from './settings';

export type RunsNode =
  | { kind: 'liveGroup' }
  | { kind: 'live'; run: LiveRunInfo }
  | { kind: 'day'; group: DateGroup }
  | { kind: 'file'; file: RunFile };

/** Live step counts repaint at most this often. */
const LIVE_REFRESH_MS = 250;
/** File events arrive in bursts (an import, a deleted folder); one rescan follows the burst. */
const RESCAN_DELAY_MS = 300;

/**
 * Folders the view lists: the endpoint's runs folder and `gradientMonitor.runFolders` (relative
 * ones against the first workspace folder).
 */
export function runFolders(ep: Endpoint): string[] {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
  const extra = vscode.workspace.getConfiguration(SECTION).get<string[]>('runFolders', []);
  return [ep.logDir, ...extra.filter((f) => typeof f === 'string' && f.trim()).map((f) => path.resolve(base, f))];
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private files: RunFile[] = [];
  private model: RunsTreeModel = { live: [], groups: [] };
  private watchers: vscode.Disposable[] = [];
  private rescanTimer?: NodeJS.Timeout;
  private liveTimer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private rescanAgain = false;

  constructor(private readonly ep: Endpoint) {
    this.watchFolders();
  }

  /** Rescans the folders now; resolves once the tree shows the result. */
  refresh(): Promise<void> {
    if (this.scanning) {
      this.rescanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanAgain = false;
        this.files = await listRunFiles(runFolders(this.ep));
      } while (this.rescanAgain);
      this.rebuild();
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** The recorded logs of the last scan. */
  get runFiles(): readonly RunFile[] {
    return this.files;
  }

  /** A run started or ended: its log moves between Live and the recorded groups. */
  onRunChanged(): void {
    this.scheduleRescan();
  }

  /** Steps arrived: repaint live counts, coalesced. */
  onSteps(): void {
    this.liveTimer ??= setTimeout(() => {
      this.liveTimer = undefined;
      this.rebuild();
    }, LIVE_REFRESH_MS);
  }

  /** Folders changed in the settings. */
  onFoldersChanged(): void {
    this.watchFolders();
    void this.refresh();
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'liveGroup': {
        const item = new vscode.TreeItem('Live', vscode.TreeItemCollapsibleState.Expanded);
        item.id = 'live';
        item.iconPath = new vscode.ThemeIcon('broadcast');
        return item;
      }
      case 'live':
        return liveItem(node.run);
      case 'day': {
        const first = this.model.groups[0] === node.group;
        const item = new vscode.TreeItem(
          node.group.label,
          first ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
        );
        item.id = `day:${node.group.label}`;
        item.description = `${node.group.files.length} run${node.group.files.length === 1 ? '' : 's'}`;
        return item;
      }
      case 'file':
        return fileItem(node.file);
    }
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (!node) {
      const top: RunsNode[] = this.model.live.length > 0 ? [{ kind: 'liveGroup' }] : [];
      return top.concat(this.model.groups.map((group) => ({ kind: 'day', group })));
    }
    if (node.kind === 'liveGroup') return this.model.live.map((run) => ({ kind: 'live', run }));
    if (node.kind === 'day') return node.group.files.map((file) => ({ kind: 'file', file }));
    return [];
  }

  dispose(): void {
    clearTimeout(this.rescanTimer);
    clearTimeout(this.liveTimer);
    for (const w of this.watchers) w.dispose();
    this.changed.dispose();
  }

  private rebuild(): void {
    this.model = buildRunsTreeModel(
      this.files,
      this.ep.hub.store.all().map((r) => liveInfo(r, this.ep)),
    );
    this.changed.fire(undefined);
  }

  private scheduleRescan(): void {
    clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => void this.refresh(), RESCAN_DELAY_MS);
  }

  private watchFolders(): void {
    for (const w of this.watchers) w.dispose();
    // Appends to a log (a live run writing) are not worth a rescan; files appearing and going are.
    this.watchers = runFolders(this.ep).map((folder) => {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(folder), '**/*'),
        false,
        true,
        false,
      );
      watcher.onDidCreate(() => this.scheduleRescan());
      watcher.onDidDelete(() => this.scheduleRescan());
      return watcher;
    });
  }
}

function liveInfo(run: Run, ep: Endpoint): LiveRunInfo {
  return {
    id: run.id,
    name: run.name,
    state: run.state,
    steps: run.stepCount,
    lastStep: run.lastStep,
    logPath: ep.hub.logPath(run.id),
  };
}

function liveItem(run: LiveRunInfo): vscode.TreeItem {
  const item = new vscode.TreeItem(run.name, vscode.TreeItemCollapsibleState.None);
  item.id = `live:${run.id}`;
  item.description = `live · ${run.steps.toLocaleString('en-US')} steps`;
  item.tooltip = `${run.name} (${run.id})\nlatest step ${Math.max(run.lastStep, 0)}\nrecording to ${run.logPath}`;
  item.iconPath = new vscode.ThemeIcon('sync~spin');
  item.contextValue = 'gradientMonitor.liveRun';
  item.command = { command: 'gradientMonitor.runs.open', title: 'Open', arguments: [{ kind: 'live', run }] };
  return item;
}

function fileItem(file: RunFile): vscode.TreeItem {
  const item = new vscode.TreeItem(file.name, vscode.TreeItemCollapsibleState.None);
  item.id = `file:${file.path}`;
  const time = new Date(file.firstTime ?? file.mtimeMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const own = file.format === 'gradient-monitor';
  item.description = `${time} · ${formatBytes(file.size)}${own ? '' : ` · ${LOG_FORMAT_SHORT_NAMES[file.format]}`}`;
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendText(`${file.name}\n${file.path}\n${LOG_FORMAT_NAMES[file.format]}`);
  item.tooltip = tooltip;
  item.resourceUri = vscode.Uri.file(file.path);
  item.iconPath = new vscode.ThemeIcon(own ? 'graph-line' : 'file');
  // Only our own logs can be deleted from here: the other files belong to the tools that wrote them.
  item.contextValue = own ? 'gradientMonitor.recordedRun' : 'gradientMonitor.importableRun';
  item.command = { command: 'gradientMonitor.runs.open', title: 'Open', arguments: [{ kind: 'file', file }] };
  return item;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
