/**
 * "Gradient Monitor: Install Python Client…": pip-installs the client bundled with the extension into
 * an interpreter, in a terminal the user sees. Offered first: the Python extension's active
 * environment when that extension is there. Needed where terminals' PYTHONPATH does not reach:
 * notebook kernels, debug configurations, jobs started outside VS Code.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const INSTALL_CLIENT_COMMAND = 'gradientMonitor.installPythonClient';

/** What the command needs from ms-python.python's API (`environments`). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The interpreter of the Python extension's active environment, when that extension is installed. */
async function activeInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!extension) return undefined;
  const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
  try {
    const environments = (await extension.activate())?.environments;
    if (environments) {
      const active = environments.getActiveEnvironmentPath(resource);
      const resolved = await environments.resolveEnvironment(active);
      return resolved?.executable.uri?.fsPath ?? active.path;
    }
    return await vscode.commands.executeCommand<string>('python.interpreterPath', {
      workspaceFolder: resource?.fsPath,
    });
  } catch {
    return undefined; // an extension that failed to start: the user picks
  }
}

async function pickInterpreter(): Promise<string | undefined> {
  const active = await activeInterpreter();
  const browse = 'Browse…';
  const items: vscode.QuickPickItem[] = [
    ...(active ? [{ label: active, description: 'the Python extension’s active environment' }] : []),
    ...(process.platform === 'win32' ? ['py', 'python'] : ['python3', 'python']).map((label) => ({
      label,
      description: 'from PATH',
    })),
    { label: browse, description: 'pick an interpreter file' },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Install the Gradient Monitor Python client into…',
    placeHolder: 'the interpreter that runs your training (or your notebook kernel)',
  });
  if (picked?.label !== browse) return picked?.label;
  const files = await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Python interpreter' });
  return files?.[0]?.fsPath;
}

/** A copy of the bundled client to install from: pip builds in the source folder, which must not be the extension's. */
function clientSource(extensionPath: string): string {
  const bundled = path.join(extensionPath, 'clients', 'python');
  const copy = path.join(mkdtempSync(path.join(os.tmpdir(), 'gradient-monitor-client-')), 'python');
  const skipped = new Set(['tests', 'bootstrap', '__pycache__', 'build']);
  cpSync(bundled, copy, { recursive: true, filter: (src) => !skipped.has(path.basename(src)) });
  return copy;
}

export function registerInstallClient(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(INSTALL_CLIENT_COMMAND, async () => {
      const python = await pickInterpreter();
      if (!python) return;
      // The terminal runs pip itself (no shell in between, so nothing to quote) and stays open on its result.
      const terminal = vscode.window.createTerminal({
        name: 'Gradient Monitor: install Python client',
        shellPath: python,
        shellArgs: ['-m', 'pip', 'install', '--upgrade', clientSource(context.extensionPath)],
      });
      terminal.show();
    }),
  );
}
