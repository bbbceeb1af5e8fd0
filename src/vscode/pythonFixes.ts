/**
 * The editor side of the Python analysis: clipping quick fixes (lightbulb / Ctrl+.), training-loop
 * checks as diagnostics, and alerts of live runs shown on the line of their script that reported
 * them, with the fixes attached.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Hub } from '../ingest/hub';
import { PythonAnalysis, siteNearLine, sitesAtLine } from '../python/analyze';
import type { Fix, TrainingSite } from '../python/model';
import { defaultParserFiles, PythonParser, pythonParser } from '../python/parser';
import { ScriptDiagnostic, ScriptDiagnostics, suggestionForRun, suggestionForScript } from '../runs/scriptLink';
import { SECTION } from './settings';

const CHECK_SOURCE = 'Gradient Monitor';
const LIVE_SOURCE = 'Gradient Monitor (live run)';
const DISMISS_COMMAND = 'gradientMonitor.dismissAlertDiagnostic';
const SELECTOR: vscode.DocumentSelector = [{ language: 'python' }];

interface Suggestion {
  maxNorm: number;
  /** Where it came from, for the action's title. */
  origin: string;
}

function defaults(): { maxNorm: number; clipValue: number } {
  const c = vscode.workspace.getConfiguration(SECTION);
  return { maxNorm: c.get('defaultMaxNorm', 1.0), clipValue: c.get('defaultClipValue', 0.5) };
}

/** One analysis per open document version; the previous one is freed when the text changes. */
export class Analyses implements vscode.Disposable {
  private readonly cache = new Map<string, { version: number; analysis: PythonAnalysis }>();

  constructor(private readonly parser: Promise<PythonParser>) {}

  async of(doc: vscode.TextDocument): Promise<PythonAnalysis> {
    const key = doc.uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = new PythonAnalysis(await this.parser, doc.getText());
    const again = this.cache.get(key); // another request may have filled it meanwhile
    if (again && again.version === doc.version) {
      analysis.dispose();
      return again.analysis;
    }
    again?.analysis.dispose();
    this.cache.set(key, { version: doc.version, analysis });
    return analysis;
  }

  /** An analysis of a file that is not open (for placing a live alert). */
  async ofText(text: string): Promise<PythonAnalysis> {
    return new PythonAnalysis(await this.parser, text);
  }

  forget(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    this.cache.get(key)?.analysis.dispose();
    this.cache.delete(key);
  }

  dispose(): void {
    for (const { analysis } of this.cache.values()) analysis.dispose();
    this.cache.clear();
  }
}

/** Registers the fixes and checks; returns the document analyses, which the CodeLens shares. */
export function registerPythonFixes(
  context: vscode.ExtensionContext,
  hub: Hub,
  log: vscode.LogOutputChannel,
): Analyses {
  const parser = pythonParser(defaultParserFiles(path.join(context.extensionPath, 'dist')));
  parser.catch((e: Error) => log.error(`cannot load the Python parser: ${e.message}`));
  const analyses = new Analyses(parser);
  const checks = vscode.languages.createDiagnosticCollection('gradient-monitor-checks');
  const live = vscode.languages.createDiagnosticCollection('gradient-monitor-live');
  const links = new ScriptDiagnostics();
  /** The live diagnostics as published, to find their alert again from a code action request. */
  const published = new Map<string, { diagnostic: vscode.Diagnostic; data: ScriptDiagnostic }[]>();
  context.subscriptions.push(analyses, checks, live);

  const refreshChecks = async (doc: vscode.TextDocument): Promise<void> => {
    if (doc.languageId !== 'python' || doc.uri.scheme !== 'file') return;
    try {
      const a = await analyses.of(doc);
      checks.set(
        doc.uri,
        a.checks.map((c) => {
          const d = new vscode.Diagnostic(
            new vscode.Range(doc.positionAt(c.start), doc.positionAt(c.end)),
            c.message,
            c.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information,
          );
          d.source = CHECK_SOURCE;
          d.code = c.code;
          return d;
        }),
      );
    } catch (e) {
      log.error(`Python analysis of ${doc.uri.fsPath} failed: ${(e as Error).message}`);
    }
  };

  /** Publishes the live diagnostics of a document: a script's path, or a notebook cell's URI (see documentOf). */
  const refreshLive = async (document: string): Promise<void> => {
    const inCell = document.startsWith('vscode-notebook-cell:');
    const uri = inCell ? vscode.Uri.parse(document) : vscode.Uri.file(document);
    const items = links.forDocument(document);
    if (items.length === 0) {
      live.delete(uri);
      published.delete(uri.toString());
      return;
    }
    const doc = vscode.workspace.textDocuments.find((d) =>
      inCell ? d.uri.toString() === uri.toString() : d.uri.fsPath === uri.fsPath,
    );
    let text: string | undefined = doc?.getText();
    try {
      if (!inCell) text ??= readFileSync(document, 'utf8');
    } catch {
      text = undefined; // the script moved away; the diagnostic still names the line
    }
    const lines = text?.split('\n') ?? [];
    let fallbackLine = 0;
    if (text !== undefined && items.some((i) => i.line === undefined)) {
      const a = doc ? await analyses.of(doc) : await analyses.ofText(text);
      fallbackLine = siteNearLine(a, 0)?.line ?? 0;
      if (!doc) a.dispose();
    }
    const entries = items.map((data) => {
      const line =
        text === undefined ? (data.line ?? 0) : Math.min(data.line ?? fallbackLine, Math.max(0, lines.length - 1));
      const content = (lines[line] ?? '').replace(/\r$/, '');
      const start = content.length - content.trimStart().length;
      const diagnostic = new vscode.Diagnostic(
        new vscode.Range(line, start, line, Math.max(start, content.length)),
        data.message,
        data.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
      );
      diagnostic.source = LIVE_SOURCE;
      diagnostic.code = data.kind;
      return { diagnostic, data };
    });
    published.set(uri.toString(), entries);
    live.set(
      uri,
      entries.map((e) => e.diagnostic),
    );
  };

  context.subscriptions.push(
    hub.subscribe('alert', (alert, run) => {
      for (const document of [links.onAlert(alert, run), links.onOrigin(alert, run)]) {
        if (document) void refreshLive(document);
      }
    }),
    hub.subscribe('run', (run) => {
      for (const document of links.onRun(run)) void refreshLive(document);
    }),
  );

  const pending = new Map<string, NodeJS.Timeout>();
  const later = (doc: vscode.TextDocument): void => {
    const key = doc.uri.toString();
    clearTimeout(pending.get(key));
    pending.set(
      key,
      setTimeout(() => {
        pending.delete(key);
        void refreshChecks(doc);
      }, 300),
    );
  };
  vscode.workspace.textDocuments.forEach((d) => void refreshChecks(d));
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument((d) => void refreshChecks(d)),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      analyses.forget(d);
      checks.delete(d.uri);
    }),
    vscode.commands.registerCommand(DISMISS_COMMAND, (key: string) => {
      const file = links.dismiss(key);
      if (file) void refreshLive(file);
    }),
    vscode.languages.registerCodeActionsProvider(
      SELECTOR,
      new ClippingActions(analyses, hub, (uri) => published.get(uri.toString()) ?? []),
      {
        providedCodeActionKinds: [vscode.CodeActionKind.QuickFix, vscode.CodeActionKind.RefactorRewrite],
      },
    ),
    { dispose: () => pending.forEach((t) => clearTimeout(t)) },
  );
  return analyses;
}

class ClippingActions implements vscode.CodeActionProvider {
  constructor(
    private readonly analyses: Analyses,
    private readonly hub: Hub,
    private readonly liveAt: (uri: vscode.Uri) => { diagnostic: vscode.Diagnostic; data: ScriptDiagnostic }[],
  ) {}

  async provideCodeActions(
    doc: vscode.TextDocument,
    range: vscode.Range,
    context: vscode.CodeActionContext,
  ): Promise<vscode.CodeAction[]> {
    const a = await this.analyses.of(doc);
    if (a.syntaxError) return [];
    const actions: vscode.CodeAction[] = [];
    const wants = (kind: vscode.CodeActionKind): boolean =>
      !context.only || context.only.contains(kind) || kind.contains(context.only);
    const action = (
      fix: Fix | undefined,
      kind: vscode.CodeActionKind,
      diagnostic?: vscode.Diagnostic,
      suffix = '',
    ): void => {
      const safe = a.safe(fix);
      if (!safe || !wants(kind)) return;
      const act = new vscode.CodeAction(safe.title + suffix, kind);
      act.edit = new vscode.WorkspaceEdit();
      for (const e of a.editsFor([safe]))
        act.edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.text);
      if (diagnostic) act.diagnostics = [diagnostic];
      act.isPreferred = actions.length === 0;
      actions.push(act);
    };
    const { clipValue } = defaults();

    for (const d of context.diagnostics) {
      if (d.source === CHECK_SOURCE) {
        const check = a.checks.find((c) => c.code === d.code && c.start === doc.offsetAt(d.range.start));
        for (const fix of check?.fixes ?? []) action(fix, vscode.CodeActionKind.QuickFix, d);
      } else if (d.source === LIVE_SOURCE) {
        const entry = this.liveAt(doc.uri).find(
          (e) => e.diagnostic.message === d.message && e.diagnostic.range.start.line === d.range.start.line,
        );
        if (!entry) continue;
        const run = this.hub.store.get(entry.data.runId);
        const suggested = run && suggestionForRun(run);
        const s: Suggestion =
          suggested !== undefined
            ? { maxNorm: suggested, origin: ` (suggested by run ${run!.name})` }
            : { maxNorm: defaults().maxNorm, origin: '' };
        const site = siteNearLine(a, d.range.start.line);
        if (site)
          this.clippingActions(
            site,
            s,
            clipValue,
            (fix, suffix) => action(fix, vscode.CodeActionKind.QuickFix, d, suffix),
            false,
          );
        if (wants(vscode.CodeActionKind.QuickFix)) {
          const dismiss = new vscode.CodeAction('Dismiss this alert', vscode.CodeActionKind.QuickFix);
          dismiss.command = { command: DISMISS_COMMAND, title: 'Dismiss', arguments: [entry.data.key] };
          dismiss.diagnostics = [d];
          actions.push(dismiss);
        }
      }
    }

    const suggestion = this.suggestionFor(doc);
    const seen = new Set<TrainingSite>();
    for (let line = range.start.line; line <= range.end.line; line++) {
      for (const site of sitesAtLine(a, line)) {
        if (seen.has(site)) continue;
        seen.add(site);
        this.clippingActions(
          site,
          suggestion,
          clipValue,
          (fix, suffix, primary) =>
            action(
              fix,
              primary ? vscode.CodeActionKind.QuickFix : vscode.CodeActionKind.RefactorRewrite,
              undefined,
              suffix,
            ),
          true,
        );
      }
    }
    return actions;
  }

  /**
   * Offers a site's clipping actions; the primary one (add or retarget norm clipping) is a quick
   * fix, so the lightbulb shows.
   */
  private clippingActions(
    site: TrainingSite,
    s: Suggestion,
    clipValue: number,
    offer: (fix: Fix | undefined, suffix: string, primary: boolean) => void,
    withMonitoring: boolean,
  ): void {
    if (site.clipping) {
      offer(site.setMaxNorm?.(s.maxNorm), s.origin, true);
    } else {
      offer(site.addNormClipping?.(s.maxNorm), s.origin, true);
      for (const alt of site.alternatives?.(s.maxNorm) ?? []) offer(alt, s.origin, false);
      offer(site.addValueClipping?.(clipValue), '', false);
    }
    if (withMonitoring) offer(site.addMonitoring?.(), '', false);
  }

  private suggestionFor(doc: vscode.TextDocument): Suggestion {
    const found = suggestionForScript(this.hub.store.all(), doc.uri.fsPath);
    return found
      ? { maxNorm: found.maxNorm, origin: ` (suggested by run ${found.run.name})` }
      : { maxNorm: defaults().maxNorm, origin: '' };
  }
}
