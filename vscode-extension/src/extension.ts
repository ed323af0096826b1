/** Entry point VS Code loads (bundled into dist/extension.js). */
import type * as vscode from 'vscode';
import { activateWith, type FuseLsApi } from './activation';
import { createLanguageClient } from './lsp';
import { runProcess } from './process';

let api: FuseLsApi | undefined;

export function activate(context: vscode.ExtensionContext): FuseLsApi {
  api = activateWith(context, { createClient: createLanguageClient, runProcess });
  return api;
}

export async function deactivate(): Promise<void> {
  await api?.manager.stop();
  api = undefined;
}
