/** Reading the `fuseLs` section of VS Code's configuration (the vscode side of settings.ts). */
import * as vscode from 'vscode';
import { DEFAULT_API_KEY_ENV, type SettingReader } from './settings';

export const SECTION = 'fuseLs';

/**
 * Reads only what the user set (user, workspace, folder or language scope): unset keys
 * are left to the server's own defaults and config files, see settings.ts.
 */
export function vscodeReader(scope?: vscode.Uri): SettingReader {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return (key: string) => {
    const inspected = config.inspect(key);
    if (!inspected) {
      return undefined;
    }
    const explicit = [
      inspected.globalValue,
      inspected.workspaceValue,
      inspected.workspaceFolderValue,
      inspected.globalLanguageValue,
      inspected.workspaceLanguageValue,
      inspected.workspaceFolderLanguageValue,
    ].some((value) => value !== undefined);
    return explicit ? config.get(key) : undefined;
  };
}

/** The variable the key is handed over in: the effective value, default included. */
export function effectiveApiKeyEnv(): string {
  const value = vscode.workspace.getConfiguration(SECTION).get<string>('provider.apiKeyEnv');
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : DEFAULT_API_KEY_ENV;
}

/** Where a command should write a setting: where the user already keeps it, else user settings. */
export function targetFor(key: string): vscode.ConfigurationTarget {
  const inspected = vscode.workspace.getConfiguration(SECTION).inspect(key);
  if (inspected?.workspaceValue !== undefined) {
    return vscode.ConfigurationTarget.Workspace;
  }
  return vscode.ConfigurationTarget.Global;
}
