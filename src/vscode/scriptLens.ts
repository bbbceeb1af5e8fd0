/**
 * CodeLens over a training script's optimizer step, Trainer and clipping call, saying how its
 * latest run (live, or the newest recorded log that names the script) behaves; a click opens that
 * run's dashboard. The text comes from src/runs/scriptLens.ts; lenses refresh at most once a second.
 */
import { stat } from 'node:fs/promises';
import * as vscode from 'vscode';
import { Coalescer } from '../dashboard/coalescer';
import { Hub } from '../ingest/hub';
import { summarizeLog } from '../runs/summary';
import { RunFile } from '../runs/runFiles';
import { Run } from '../runs/runStore';
import {
  factsOfRun,
  factsOfSummary,
  latestRecordedRun,
  lensLines,
  lensTitle,
  lensTooltip,
  ScriptLensFacts,
} from '../runs/scriptLens';
import { runsOfScript, scriptOf } from '../runs/scriptLink';
import { Analyses } from './pythonFixes';
import { RunsTreeProvider } from './runsTree';
import { SECTION } from './settings';

const ENABLED = `${SECTION}.codeLens.enabled`;
const REFRESH_MS = 1000;

/** Summaries of recorded logs, computed once per version of the file (size and mtime). */
class RecordedSummaries {
  private readonly cache = new Map<string, { version: string; facts: Promise<ScriptLensFacts> }>();

  async of(file: RunFile): Promise<ScriptLensFacts | undefined> {
    const info = await stat(file.path).catch(() => undefined);
    if (!info) return undefined;
    const version = `${info.size}:${info.mtimeMs}`;
    let hit = this.cache.get(file.path);
    if (hit?.version !== version) {
      hit = { version, facts: summarizeLog(file.path).then(factsOfSummary) };
      this.cache.set(file.path, hit);
    }
    return hit.facts.catch(() => undefined); // unreadable now: no lens rather than an error
  }
}

class ScriptLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly refresh = new Coalescer(() => this.changed.fire(), REFRESH_MS);
  private readonly summaries = new RecordedSummaries();

  constructor(
    private readonly analyses: Analyses,
    private readonly hub: Hub,
    private readonly runsView: RunsTreeProvider,
  ) {}

  /** Something a lens shows may have changed; repaint within a second. */
  requestRefresh(): void {
    this.refresh.request();
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (doc.uri.scheme !== 'file' || !vscode.workspace.getConfiguration().get<boolean>(ENABLED, true)) return [];
    const target = await this.runFor(doc.uri.fsPath);
    if (!target) return [];
    const analysis = await this.analyses.of(doc);
    if (analysis.syntaxError) return [];
    const title = lensTitle(target.facts);
    const tooltip = lensTooltip(target.facts);
    return lensLines(analysis.sites).map(
      (line) => new vscode.CodeLens(new vscode.Range(line, 0, line, 0), { ...target.command, title, tooltip }),
    );
  }

  dispose(): void {
    this.refresh.dispose();
    this.changed.dispose();
  }

  private async runFor(
    file: string,
  ): Promise<{ facts: ScriptLensFacts; command: Omit<vscode.Command, 'title'> } | undefined> {
    const runs = runsOfScript(this.hub.store.all(), file);
    const run = runs.find((r) => r.state === 'live') ?? runs[0];
    if (run)
      return { facts: factsOfRun(run), command: { command: 'gradientMonitor.openDashboard', arguments: [run.id] } };
    const recorded = latestRecordedRun(this.runsView.runFiles, file);
    const facts = recorded && (await this.summaries.of(recorded));
    if (!recorded || !facts) return undefined;
    return { facts, command: { command: 'gradientMonitor.runs.open', arguments: [{ kind: 'file', file: recorded }] } };
  }
}

export function registerScriptLens(
  context: vscode.ExtensionContext,
  analyses: Analyses,
  hub: Hub,
  runsView: RunsTreeProvider,
): void {
  const provider = new ScriptLensProvider(analyses, hub, runsView);
  const ofScript = (run: Run): void => {
    if (scriptOf(run)) provider.requestRefresh();
  };
  context.subscriptions.push(
    provider,
    hub.subscribe('steps', ofScript),
    hub.subscribe('run', ofScript),
    runsView.onDidChangeTreeData(() => provider.requestRefresh()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(ENABLED)) provider.requestRefresh();
    }),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, provider),
  );
}
