/**
 * Settings take effect without a reload. Alert rules, limits and the run limit are pushed to the
 * endpoint (and from there to every run and open dashboard); the notifier, the quick fixes, the
 * Runs view and the CodeLens read theirs when they use them or listen themselves. A change of the
 * endpoint's address or token disconnects training processes, so it asks before restarting.
 */
import * as vscode from 'vscode';
import { Endpoint } from './endpoint';
import { SECTION } from './settings';

/** Settings the endpoint only takes by listening again. */
const RESTART_KEYS = ['host', 'port', 'token', 'maxFrameBytes'].map((k) => `${SECTION}.${k}`);

export function registerLiveSettings(
  context: vscode.ExtensionContext,
  ep: Endpoint,
  restart: () => Promise<void>,
): void {
  let asking = false;
  const askToRestart = async (): Promise<void> => {
    if (asking) return; // one question for a burst of edits; the restart reads the settings as they are then
    asking = true;
    try {
      const choice = await vscode.window.showInformationMessage(
        'Gradient Monitor: the endpoint settings changed. Restart the endpoint now?',
        {
          modal: true,
          detail: 'Training processes connected now are disconnected, and new terminals get the new address.',
        },
        'Restart',
        'Later',
      );
      if (choice === 'Restart') await restart();
    } finally {
      asking = false;
    }
  };

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      ep.applyLiveSettings();
      if (ep.listening && RESTART_KEYS.some((k) => e.affectsConfiguration(k))) void askToRestart();
    }),
  );
}
