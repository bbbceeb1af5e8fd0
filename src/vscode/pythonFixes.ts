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
import type { TextEdit } from '../python/edits';
import type { Fix, TrainingSite } from '../python/model';
import { NotebookProgram } from '../python/notebook';
import { defaultParserFiles, PythonParser, pythonParser } from '../python/parser';
import { ScriptDiagnostic, ScriptDiagnostics, suggestionForRun, suggestionForScript } from '../runs/scriptLink';
import { SECTION } from './settings';

const CHECK_SOURCE = 'Gradient Monitor';
const LIVE_SOURCE = 'Gradient Monitor (live run)';
const DISMISS_COMMAND = 'gradientMonitor.dismissAlertDiagnostic';
const NOTEBOOK_CELL_SCHEME = 'vscode-notebook-cell';
/** Python scripts and Python cells of notebooks (`vscode-notebook-cell` documents). */
const SELECTOR: vscode.DocumentSelector = [
  { language: 'python', scheme: 'file' },
  { language: 'python', scheme: 'untitled' },
  { language: 'python', scheme: NOTEBOOK_CELL_SCHEME },
];

interface Suggestion {
  maxNorm: number;
  /** Where it came from, for the action's title. */
  origin: string;
}

function defaults(): { maxNorm: number; clipValue: number } {
  const c = vscode.workspace.getConfiguration(SECTION);
  return { maxNorm: c.get('defaultMaxNorm', 1.0), clipValue: c.get('defaultClipValue', 0.5) };
}

/**
 * What is analysed for a document: the script itself, or the whole notebook a cell belongs to
 * (cells in order, as one program), with the way between program offsets and document positions.
 */
interface ProgramView {
  analysis: PythonAnalysis;
  /** The documents of the program (the script, or the notebook's cells). */
  docs: readonly vscode.TextDocument[];
  /** The program offset of a position in one of its documents. */
  offsetAt(doc: vscode.TextDocument, position: vscode.Position): number | undefined;
  /** The document and range of a span of the program. */
  rangeOf(start: number, end: number): { doc: vscode.TextDocument; range: vscode.Range } | undefined;
  /** Adds program edits to a workspace edit, each in its document. */
  addEdits(edits: readonly TextEdit[], into: vscode.WorkspaceEdit): void;
}

function scriptView(doc: vscode.TextDocument, analysis: PythonAnalysis): ProgramView {
  return {
    analysis,
    docs: [doc],
    offsetAt: (d, p) => (d.uri.toString() === doc.uri.toString() ? d.offsetAt(p) : undefined),
    rangeOf: (start, end) => ({ doc, range: new vscode.Range(doc.positionAt(start), doc.positionAt(end)) }),
    addEdits: (edits, into) => {
      for (const e of edits)
        into.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.text);
    },
  };
}

function notebookView(notebook: vscode.NotebookDocument, parser: PythonParser): ProgramView {
  const cells = notebook.getCells();
  const program = new NotebookProgram(
    cells.map((c) => ({
      kind: c.kind === vscode.NotebookCellKind.Code ? 'code' : 'markup',
      language: c.document.languageId,
      text: c.document.getText(),
    })),
    'skip', // a cell in another language (SQL, R...) is left out of the program, not an error
  );
  const analysis = new PythonAnalysis(parser, program.source, { place: (o) => program.where(o).text });
  const docOf = (cell: number): vscode.TextDocument => cells[cell].document;
  return {
    analysis,
    docs: cells.map((c) => c.document),
    offsetAt: (d, p) => {
      const index = cells.findIndex((c) => c.document.uri.toString() === d.uri.toString());
      return index < 0 ? undefined : program.programOffset(index, d.offsetAt(p));
    },
    rangeOf: (start, end) => {
      const from = program.locate(start);
      if (!from) return undefined;
      const doc = docOf(from.cell);
      const to = program.locate(end);
      const endOffset = to && to.cell === from.cell ? to.offset : doc.getText().length;
      return { doc, range: new vscode.Range(doc.positionAt(from.offset), doc.positionAt(endOffset)) };
    },
    addEdits: (edits, into) => {
      for (const [cell, list] of program.cellEdits(edits)) {
        const doc = docOf(cell);
        for (const e of list)
          into.replace(doc.uri, new vscode.Range(doc.positionAt(e.start), doc.positionAt(e.end)), e.text);
      }
    },
  };
}

/** The notebook a cell document belongs to. */
function notebookOf(doc: vscode.TextDocument): vscode.NotebookDocument | undefined {
  if (doc.uri.scheme !== NOTEBOOK_CELL_SCHEME) return undefined;
  return vscode.workspace.notebookDocuments.find((nb) =>
    nb.getCells().some((c) => c.document.uri.toString() === doc.uri.toString()),
  );
}

/** Reads a file a script names (a DeepSpeed JSON config) beside it. */
function besideReader(doc: vscode.TextDocument): (name: string) => string | undefined {
  return (name) => {
    if (doc.uri.scheme !== 'file') return undefined;
    try {
      return readFileSync(path.resolve(path.dirname(doc.uri.fsPath), name), 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** One analysis per open script or notebook version; the previous one is freed when the text changes. */
export class Analyses implements vscode.Disposable {
  private readonly cache = new Map<string, { version: string; view: ProgramView }>();

  constructor(private readonly parser: Promise<PythonParser>) {}

  /** The analysis of a script, or of the whole notebook a cell belongs to. */
  async of(doc: vscode.TextDocument): Promise<PythonAnalysis> {
    return (await this.view(doc)).analysis;
  }

  async view(doc: vscode.TextDocument): Promise<ProgramView> {
    const notebook = notebookOf(doc);
    const key = (notebook ?? doc).uri.toString();
    const version = notebook
      ? notebook
          .getCells()
          .map((c) => `${c.document.uri.fragment}:${c.document.version}`)
          .join(',')
      : String(doc.version);
    const hit = this.cache.get(key);
    if (hit && hit.version === version) return hit.view;
    const parser = await this.parser;
    const view = notebook
      ? notebookView(notebook, parser)
      : scriptView(doc, new PythonAnalysis(parser, doc.getText(), { readFile: besideReader(doc) }));
    const again = this.cache.get(key); // another request may have filled it meanwhile
    if (again && again.version === version) {
      view.analysis.dispose();
      return again.view;
    }
    again?.view.analysis.dispose();
    this.cache.set(key, { version, view });
    return view;
  }

  /** An analysis of a file that is not open (for placing a live alert). */
  async ofText(text: string): Promise<PythonAnalysis> {
    return new PythonAnalysis(await this.parser, text);
  }

  forget(uri: vscode.Uri): void {
    const key = uri.toString();
    this.cache.get(key)?.view.analysis.dispose();
    this.cache.delete(key);
  }

  dispose(): void {
    for (const { view } of this.cache.values()) view.analysis.dispose();
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
    if (doc.languageId !== 'python' || (doc.uri.scheme !== 'file' && doc.uri.scheme !== NOTEBOOK_CELL_SCHEME)) return;
    try {
      const view = await analyses.view(doc);
      const byDoc = new Map<string, vscode.Diagnostic[]>(view.docs.map((d) => [d.uri.toString(), []]));
      for (const c of view.analysis.checks) {
        const at = view.rangeOf(c.start, c.end);
        if (!at) continue;
        const d = new vscode.Diagnostic(
          at.range,
          c.message,
          c.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information,
        );
        d.source = CHECK_SOURCE;
        d.code = c.code;
        byDoc.get(at.doc.uri.toString())?.push(d);
      }
      for (const d of view.docs) checks.set(d.uri, byDoc.get(d.uri.toString()) ?? []);
    } catch (e) {
      log.error(`Python analysis of ${doc.uri.toString()} failed: ${(e as Error).message}`);
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
      if (d.uri.scheme === NOTEBOOK_CELL_SCHEME) return; // the notebook's close clears its cells
      analyses.forget(d.uri);
      checks.delete(d.uri);
    }),
    vscode.workspace.onDidOpenNotebookDocument((nb) => {
      const first = nb.getCells().find((c) => c.document.languageId === 'python');
      if (first) void refreshChecks(first.document);
    }),
    vscode.workspace.onDidCloseNotebookDocument((nb) => {
      analyses.forget(nb.uri);
      for (const c of nb.getCells()) checks.delete(c.document.uri);
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

/** Edits of other files a fix needs (a DeepSpeed JSON config beside the script). */
async function addFileEdits(
  doc: vscode.TextDocument,
  files: ReadonlyMap<string, TextEdit[]>,
  into: vscode.WorkspaceEdit,
): Promise<void> {
  for (const [name, edits] of files) {
    const target = await vscode.workspace.openTextDocument(
      vscode.Uri.file(path.resolve(path.dirname(doc.uri.fsPath), name)),
    );
    for (const e of edits)
      into.replace(target.uri, new vscode.Range(target.positionAt(e.start), target.positionAt(e.end)), e.text);
  }
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
    const view = await this.analyses.view(doc);
    const a = view.analysis;
    if (a.syntaxError) return [];
    const actions: vscode.CodeAction[] = [];
    const wants = (kind: vscode.CodeActionKind): boolean =>
      !context.only || context.only.contains(kind) || kind.contains(context.only);
    const action = async (
      fix: Fix | undefined,
      kind: vscode.CodeActionKind,
      diagnostic?: vscode.Diagnostic,
      suffix = '',
    ): Promise<void> => {
      const safe = a.safe(fix);
      if (!safe || !wants(kind)) return;
      const act = new vscode.CodeAction(safe.title + suffix, kind);
      act.edit = new vscode.WorkspaceEdit();
      try {
        view.addEdits(a.editsFor([safe]), act.edit);
        await addFileEdits(doc, a.fileEditsFor([safe]), act.edit);
      } catch {
        return; // an edit that would cross two cells, or a config file that cannot be opened
      }
      if (diagnostic) act.diagnostics = [diagnostic];
      act.isPreferred = actions.length === 0;
      actions.push(act);
    };
    const { clipValue } = defaults();

    for (const d of context.diagnostics) {
      if (d.source === CHECK_SOURCE) {
        const start = view.offsetAt(doc, d.range.start);
        const check = a.checks.find((c) => c.code === d.code && c.start === start);
        for (const fix of check?.fixes ?? []) await action(fix, vscode.CodeActionKind.QuickFix, d);
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
          await this.clippingActions(
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
    const first = view.offsetAt(doc, range.start);
    const last = view.offsetAt(doc, range.end);
    if (first === undefined || last === undefined) return actions;
    for (let line = a.lines.position(first).line; line <= a.lines.position(last).line; line++) {
      for (const site of sitesAtLine(a, line)) {
        if (seen.has(site)) continue;
        seen.add(site);
        await this.clippingActions(
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
  private async clippingActions(
    site: TrainingSite,
    s: Suggestion,
    clipValue: number,
    offer: (fix: Fix | undefined, suffix: string, primary: boolean) => Promise<void>,
    withMonitoring: boolean,
  ): Promise<void> {
    if (site.clipping) {
      await offer(site.setMaxNorm?.(s.maxNorm), s.origin, true);
    } else {
      await offer(site.addNormClipping?.(s.maxNorm), s.origin, true);
      for (const alt of site.alternatives?.(s.maxNorm) ?? []) await offer(alt, s.origin, false);
      await offer(site.addValueClipping?.(clipValue), '', false);
    }
    if (withMonitoring) await offer(site.addMonitoring?.(), '', false);
  }

  private suggestionFor(doc: vscode.TextDocument): Suggestion {
    const found = suggestionForScript(this.hub.store.all(), doc.uri.fsPath);
    return found
      ? { maxNorm: found.maxNorm, origin: ` (suggested by run ${found.run.name})` }
      : { maxNorm: defaults().maxNorm, origin: '' };
  }
}
