/**
 * The streaming endpoint of this window: the Hub (runs, alerts, recording) exists from activation;
 * the server that feeds it listens once the workspace is trusted, and is restarted when its address
 * settings change. Training processes learn where it is from terminals' environment and the
 * discovery file.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Hub } from '../ingest/hub';
import { RunStore } from '../runs/runStore';
import { newToken } from '../server/auth';
import { removeDiscovery, writeDiscovery } from '../server/discovery';
import { GradientServer, LiveLimits } from '../server/server';
import { alertSettings, EndpointSettings, endpointSettings } from './settings';

/** The workspace's `.gradient-monitor/runs`, or the extension's global storage without a local workspace folder. */
export function runsFolder(context: vscode.ExtensionContext): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  // A virtual workspace (vscode-vfs://, ...) has no local folder to write logs to.
  return folder?.uri.scheme === 'file'
    ? path.join(folder.uri.fsPath, '.gradient-monitor', 'runs')
    : path.join(context.globalStorageUri.fsPath, 'runs');
}

/** The folder put on PYTHONPATH: a stand-in for `gradient_monitor` loading an installed copy, else the bundled one. */
export function bundledClientPath(extensionPath: string): string {
  return path.join(extensionPath, 'clients', 'python', 'bootstrap');
}

function liveLimits(s: EndpointSettings): LiveLimits {
  return {
    allowedOrigins: s.allowedOrigins,
    maxConnections: s.maxConnections,
    maxMessagesPerSecond: s.maxMessagesPerSecond,
    validation: { maxLayers: s.maxLayers },
  };
}

export class Endpoint {
  readonly hub: Hub;
  readonly logDir: string;
  private server?: GradientServer;
  private token = '';
  private readonly changed = new vscode.EventEmitter<void>();
  /** The endpoint started, stopped or moved. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly context: vscode.ExtensionContext) {
    const s = endpointSettings();
    this.logDir = runsFolder(context);
    this.hub = new Hub(new RunStore({ alerts: alertSettings(), maxRuns: s.maxRuns }), this.logDir);
  }

  /** The stream URL, or undefined while the endpoint is not listening (an untrusted workspace). */
  get url(): string | undefined {
    return this.server?.url;
  }

  /** What the endpoint is doing, for status lines: "listening on ws://…" or why it is not. */
  describe(): string {
    return this.server ? `listening on ${this.server.url}` : 'off until this workspace is trusted';
  }

  /** Where and how clients connect, or undefined while not listening. */
  connection(): { url: string; token: string } | undefined {
    return this.server ? { url: this.server.url, token: this.token } : undefined;
  }

  /** Listens with the current settings (again, if it was already listening). */
  async start(): Promise<string> {
    await this.stopServer();
    const s = endpointSettings();
    this.token = s.token || newToken();
    const server = new GradientServer(this.hub, {
      host: s.host,
      port: s.port,
      token: this.token,
      explicitToken: s.token !== '',
      maxFrameBytes: s.maxFrameBytes,
      ...liveLimits(s),
    });
    const { url } = await server.listen();
    this.server = server;

    // Integrated terminals opened from now on (and restored ones) get the endpoint in their environment.
    const env = this.context.environmentVariableCollection;
    env.description =
      'Lets training scripts find the Gradient Monitor endpoint of this window and import its Python client.';
    env.replace('GRADIENT_MONITOR_URL', url);
    env.replace('GRADIENT_MONITOR_TOKEN', this.token);
    // Prepended, so the user's own PYTHONPATH stays; the stand-in there yields to an installed client.
    env.prepend('PYTHONPATH', bundledClientPath(this.context.extensionPath) + path.delimiter);

    await writeDiscovery({
      url,
      token: this.token,
      pid: process.pid,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      startedAt: Date.now(),
      logDir: this.logDir,
    });
    this.changed.fire();
    return url;
  }

  /** Settings that apply without a restart: alert rules of every run, the run limit, the server's limits. */
  applyLiveSettings(): void {
    const s = endpointSettings();
    this.hub.reconfigure(alertSettings(), s.maxRuns);
    this.server?.updateLimits(liveLimits(s));
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async dispose(): Promise<void> {
    await this.stopServer();
    await this.hub.close(3000); // VS Code stops waiting for an extension host after about 5 s
    this.changed.dispose();
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await server.close();
    await removeDiscovery();
  }
}
