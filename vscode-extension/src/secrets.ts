/**
 * The API key lives in VS Code's SecretStorage only. It reaches the server solely as an
 * environment variable of the spawned process (see launch.ts); it is never written to
 * settings, never sent in LSP messages and never logged (the Redactor masks it).
 */
import * as vscode from 'vscode';
import type { Redactor } from './log';

export const API_KEY_SECRET = 'fuseLs.apiKey';

export class ApiKeyStore {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly redactor: Redactor,
  ) {}

  async get(): Promise<string | undefined> {
    const key = await this.secrets.get(API_KEY_SECRET);
    this.redactor.add(key);
    return key === '' ? undefined : key;
  }

  async set(key: string): Promise<void> {
    this.redactor.add(key);
    await this.secrets.store(API_KEY_SECRET, key);
  }

  async clear(): Promise<void> {
    await this.secrets.delete(API_KEY_SECRET);
  }

  /** Fires when our key changes, here or in another window. */
  onDidChange(listener: () => void): vscode.Disposable {
    return this.secrets.onDidChange((event) => {
      if (event.key === API_KEY_SECRET) {
        listener();
      }
    });
  }
}

/** The `fuseLs.setApiKey` command: prompt, store, or remove on an empty answer. */
export async function promptForApiKey(store: ApiKeyStore, envName: string): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: 'fuse-ls: API key',
    prompt: `Stored in VS Code's secret storage and given to the server as ${envName}. Leave empty to remove the stored key.`,
    placeHolder: 'sk-or-…',
    password: true,
    ignoreFocusOut: true,
  });
  if (value === undefined) {
    return; // dismissed: change nothing
  }
  const key = value.trim();
  if (key === '') {
    await store.clear();
    void vscode.window.showInformationMessage('fuse-ls: the stored API key was removed.');
    return;
  }
  await store.set(key);
  void vscode.window.showInformationMessage(`fuse-ls: API key saved; the server restarts with it in ${envName}.`);
}
