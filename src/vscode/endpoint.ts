/** Starts the streaming endpoint for this window and tells training processes where it is. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Hub } from '../ingest/hub';
import { RunStore } from '../runs/runStore';
import { newToken } from '../server/auth';
import { removeDiscovery, writeDiscovery } from '../server/discovery';
import { GradientServer } from '../server/server';
import { alertSettings, endpointSettings } from './settings';

export interface Endpoint {
  hub: Hub;
  server: GradientServer;
  url: string;
  token: string;
  logDir: string;
  dispose(): Promise<void>;
}

/** The workspace's `.gradient-monitor/runs`, or the extension's global storage without a workspace. */
export function runsFolder(context: vscode.ExtensionContext): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder
    ? path.join(folder.uri.fsPath, '.gradient-monitor', 'runs')
    : path.join(context.globalStorageUri.fsPath, 'runs');
}

/** The folder put on PYTHONPATH: a stand-in for `gradient_monitor` that loads an installed copy, else the bundled one. */
export function bundledClientPath(extensionPath: string): string {
  return path.join(extensionPath, 'clients', 'python', 'bootstrap');
}

export async function startEndpoint(context: vscode.ExtensionContext): Promise<Endpoint> {
  const s = endpointSettings();
  const token = s.token || newToken();
  const logDir = runsFolder(context);
  const hub = new Hub(new RunStore({ alerts: alertSettings(), maxRuns: s.maxRuns }), logDir);
  const server = new GradientServer(hub, {
    host: s.host,
    port: s.port,
    token,
    explicitToken: s.token !== '',
    allowedOrigins: s.allowedOrigins,
    maxFrameBytes: s.maxFrameBytes,
    maxConnections: s.maxConnections,
    maxMessagesPerSecond: s.maxMessagesPerSecond,
    validation: { maxLayers: s.maxLayers },
  });
  const { url } = await server.listen();

  // Integrated terminals opened from now on (and restored ones) get the endpoint in their environment.
  const env = context.environmentVariableCollection;
  env.description =
    'Lets training scripts find the Gradient Monitor endpoint of this window and import its Python client.';
  env.replace('GRADIENT_MONITOR_URL', url);
  env.replace('GRADIENT_MONITOR_TOKEN', token);
  // Prepended, so the user's own PYTHONPATH stays; the stand-in there yields to an installed client.
  env.prepend('PYTHONPATH', bundledClientPath(context.extensionPath) + path.delimiter);

  await writeDiscovery({
    url,
    token,
    pid: process.pid,
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    startedAt: Date.now(),
    logDir,
  });

  return {
    hub,
    server,
    url,
    token,
    logDir,
    async dispose() {
      await server.close();
      await hub.close(3000); // VS Code stops waiting for an extension host after about 5 s
      await removeDiscovery();
    },
  };
}
