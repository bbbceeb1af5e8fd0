/**
 * Reads the extension's settings (package.json `contributes.configuration`) into plain objects for
 * the pure modules.
 */
import * as vscode from 'vscode';
import { AlertSettings, DEFAULT_ALERT_SETTINGS } from '../alerts/rules';

export const SECTION = 'gradientMonitor';

export interface EndpointSettings {
  host: string;
  port: number;
  token: string;
  allowedOrigins: string[];
  maxFrameBytes: number;
  maxConnections: number;
  maxMessagesPerSecond: number;
  maxLayers: number;
  maxRuns: number;
}

export function endpointSettings(): EndpointSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    host: c.get('host', '127.0.0.1'),
    port: c.get('port', 7451),
    token: c.get('token', ''),
    allowedOrigins: c.get('allowedOrigins', []),
    maxFrameBytes: c.get('maxFrameBytes', 1024 * 1024),
    maxConnections: c.get('maxConnections', 256),
    maxMessagesPerSecond: c.get('maxMessagesPerSecond', 200_000),
    maxLayers: c.get('maxLayers', 10_000),
    maxRuns: c.get('maxRuns', 256),
  };
}

export function alertSettings(): AlertSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const d = DEFAULT_ALERT_SETTINGS;
  return {
    threshold: c.get('threshold', d.threshold),
    spikeWindow: c.get('spike.window', d.spikeWindow),
    spikeMads: c.get('spike.mads', d.spikeMads),
    spikeMinRatio: c.get('spike.minRatio', d.spikeMinRatio),
    vanishingFloor: c.get('vanishing.floor', d.vanishingFloor),
    vanishingSteps: c.get('vanishing.steps', d.vanishingSteps),
  };
}

export function notificationSettings(): { enabled: boolean; intervalSeconds: number } {
  const c = vscode.workspace.getConfiguration(SECTION);
  return { enabled: c.get('notifications.enabled', true), intervalSeconds: c.get('notifications.intervalSeconds', 10) };
}

export function dashboardSettings(): { openOnRunStart: boolean } {
  return { openOnRunStart: vscode.workspace.getConfiguration(SECTION).get('dashboard.openOnRunStart', false) };
}
