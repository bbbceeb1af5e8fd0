/**
 * The data behind the Runs view: finds run logs (ours and other tools') in folders, reads just
 * enough of each to name it and date it, and groups them by day with live runs apart. No VS Code
 * here; src/vscode/runsTree.ts only draws it.
 */
import { open, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { importedRunIdentity } from '../importers/identity';
import { detectFormatFromContent, formatFromName } from '../importers/readLog';
import { LogFormat } from '../importers/types';
import { parseJsonAllowingNonFinite } from '../protocol/json';
import { validateMessage } from '../protocol/validate';

export interface RunFile {
  path: string;
  /** The listed folder it was found under. */
  folder: string;
  format: LogFormat;
  size: number;
  mtimeMs: number;
  name: string;
  runId?: string;
  /** Time of the first step that carries one (ms since the epoch), else undefined. */
  firstTime?: number;
  /** The training script the run reported (run_start.meta.script, an absolute path), if any. */
  script?: string;
}

export interface ListOptions {
  /** How deep to look below each folder (TensorBoard and Trainer outputs nest runs in subfolders). */
  maxDepth?: number;
  /** Stop after this many candidate files per folder, so a huge folder cannot stall the view. */
  maxFiles?: number;
}

/** Bytes read from each file to name and date it. */
const PEEK_BYTES = 16 * 1024;
const SKIPPED_DIRS = new Set(['node_modules', '__pycache__', '.git']);

/** File names that may be logs; the content decides. */
export function isCandidateLogName(name: string): boolean {
  const n = name.toLowerCase();
  return (
    n.endsWith('.jsonl') ||
    n.endsWith('.ndjson') ||
    n.endsWith('.csv') ||
    n === 'trainer_state.json' ||
    n.startsWith('events.out.tfevents.')
  );
}

/** Every run log under the folders (missing folders are skipped), newest first. */
export async function listRunFiles(folders: readonly string[], opts: ListOptions = {}): Promise<RunFile[]> {
  const seen = new Set<string>();
  const files: RunFile[] = [];
  for (const folder of folders) {
    const candidates: string[] = [];
    await collectCandidates(folder, opts.maxDepth ?? 3, opts.maxFiles ?? 2000, candidates);
    for (const file of candidates) {
      if (seen.has(file)) continue; // nested or repeated folders
      seen.add(file);
      const entry = await describeRunFile(file, folder).catch(() => undefined); // vanished or unreadable: not listed
      if (entry) files.push(entry);
    }
  }
  return files.sort((a, b) => runDate(b) - runDate(a));
}

async function collectCandidates(dir: string, depth: number, max: number, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (out.length >= max) return;
    const full = path.join(dir, e.name);
    if (e.isFile() && isCandidateLogName(e.name)) out.push(full);
    else if (e.isDirectory() && depth > 0 && !SKIPPED_DIRS.has(e.name))
      await collectCandidates(full, depth - 1, max, out);
  }
}

/** Names and dates one file from its first bytes; undefined when it is no log we read. */
export async function describeRunFile(file: string, folder: string): Promise<RunFile | undefined> {
  const info = await stat(file);
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(Math.min(PEEK_BYTES, info.size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  // Any CSV may sit in a folder; only one with our header is a log. Other names are specific enough.
  const format =
    detectFormatFromContent(head) ?? (file.toLowerCase().endsWith('.csv') ? undefined : formatFromName(file));
  if (!format) return undefined;
  const entry: RunFile = {
    path: file,
    folder,
    format,
    size: info.size,
    mtimeMs: info.mtimeMs,
    name: importedRunIdentity(file, format).name,
  };
  if (format === 'gradient-monitor') Object.assign(entry, peekOwnLog(head));
  return entry;
}

/** Run id, name and first step time from the complete lines at the start of one of our logs. */
function peekOwnLog(head: Buffer): Partial<RunFile> {
  const found: Partial<RunFile> = {};
  const text = head.toString('utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    if (!line.trim()) continue;
    let result;
    try {
      result = validateMessage(parseJsonAllowingNonFinite(line));
    } catch {
      continue;
    }
    if (!('ok' in result)) continue;
    const m = result.ok;
    found.runId ??= m.run_id;
    if (m.run_id !== found.runId) continue;
    if (m.type === 'run_start') {
      found.name = m.name ?? m.run_id;
      const script = m.meta?.script;
      if (typeof script === 'string' && path.isAbsolute(script)) found.script = script;
    }
    if (m.type === 'step' && m.time !== undefined && Number.isFinite(m.time)) {
      found.firstTime = m.time * 1000;
      break;
    }
  }
  if (found.runId && !found.name) found.name = found.runId;
  return found;
}

/** When the run happened: its first step's time, else the file's last change. */
export function runDate(f: RunFile): number {
  return f.firstTime ?? f.mtimeMs;
}

export interface LiveRunInfo {
  id: string;
  name: string;
  state: string;
  steps: number;
  lastStep: number;
  logPath: string;
}

export interface DateGroup {
  /** "Today", "Yesterday" or the date as YYYY-MM-DD (local time). */
  label: string;
  files: RunFile[];
}

export interface RunsTreeModel {
  live: LiveRunInfo[];
  groups: DateGroup[];
}

/**
 * Live runs first; recorded files grouped by local day, newest first. A live run's own log is shown
 * only as the live run, not twice.
 */
export function buildRunsTreeModel(
  files: readonly RunFile[],
  live: readonly LiveRunInfo[],
  now: Date = new Date(),
): RunsTreeModel {
  const liveRuns = live.filter((r) => r.state === 'live');
  const livePaths = new Set(liveRuns.map((r) => path.resolve(r.logPath)));
  const groups = new Map<string, RunFile[]>();
  const sorted = files.filter((f) => !livePaths.has(path.resolve(f.path))).sort((a, b) => runDate(b) - runDate(a));
  for (const f of sorted) {
    const label = dayLabel(new Date(runDate(f)), now);
    const list = groups.get(label);
    if (list) list.push(f);
    else groups.set(label, [f]);
  }
  return { live: liveRuns, groups: [...groups].map(([label, list]) => ({ label, files: list })) };
}

export function dayLabel(date: Date, now: Date): string {
  const day = localDay(date);
  if (day === localDay(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (day === localDay(yesterday)) return 'Yesterday';
  return day;
}

function localDay(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
