/** Entry point VS Code loads (bundled into dist/extension.js). */
import { existsSync } from 'fs';
import * as path from 'path';
import type * as vscode from 'vscode';
import { activateWith, type FuseLsApi } from './activation';
import { createLanguageClient } from './lsp';
import { runProcess } from './process';

let api: FuseLsApi | undefined;

export function activate(context: vscode.ExtensionContext): FuseLsApi {
  // The .vsix carries the server and its pure-Python dependencies (scripts/bundle-server.mjs).
  const libs = path.join(context.extensionPath, 'bundled', 'libs');
  const bundledLibs = existsSync(path.join(libs, 'fuse_ls', '__init__.py')) ? libs : undefined;
  api = activateWith(context, { createClient: createLanguageClient, runProcess, bundledLibs });
  return api;
}

export async function deactivate(): Promise<void> {
  await api?.manager.stop();
  api = undefined;
}
