/**
 * Which Python runs the server: the `fuseLs.interpreter` setting, else the Python
 * extension's active environment (the convention of Microsoft's Python tools template),
 * else `python3` from PATH.
 */
import * as os from 'os';
import * as vscode from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';
export const DEFAULT_PYTHON = process.platform === 'win32' ? 'python' : 'python3';

export type InterpreterSource = 'setting' | 'python-extension' | 'default';

export interface Interpreter {
  path: string;
  source: InterpreterSource;
}

/** The slice of the Python extension's API we use (`environments`, 2023+). */
interface PythonEnvironmentPath {
  id: string;
  path: string;
}
interface ResolvedEnvironment {
  executable?: { uri?: vscode.Uri };
}
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri | vscode.WorkspaceFolder): PythonEnvironmentPath;
    resolveEnvironment(env: PythonEnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
}

export async function pythonExtensionApi(): Promise<PythonExtensionApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) {
    return undefined;
  }
  return extension.isActive ? extension.exports : await extension.activate();
}

/** `~` and `${workspaceFolder}` are what users type into path settings. */
export function expandPath(value: string, workspaceFolder: string | undefined): string {
  let out = value.trim();
  if (out === '~' || out.startsWith('~/')) {
    out = os.homedir() + out.slice(1);
  }
  if (workspaceFolder !== undefined) {
    out = out.split('${workspaceFolder}').join(workspaceFolder);
  }
  return out;
}

export async function resolveInterpreter(log: (message: string) => void): Promise<Interpreter> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const configured = vscode.workspace.getConfiguration('fuseLs').get<string>('interpreter');
  if (typeof configured === 'string' && configured.trim() !== '') {
    return { path: expandPath(configured, folder?.uri.fsPath), source: 'setting' };
  }
  try {
    const api = await pythonExtensionApi();
    const environments = api?.environments;
    if (environments) {
      const active = environments.getActiveEnvironmentPath(folder?.uri);
      const resolved = await environments.resolveEnvironment(active);
      const executable = resolved?.executable?.uri?.fsPath ?? active.path;
      if (executable) {
        return { path: executable, source: 'python-extension' };
      }
    }
  } catch (error) {
    // A broken Python extension must not keep fuse-ls from starting with the fallback.
    log(`Python extension did not give an interpreter (${String(error)}); using ${DEFAULT_PYTHON}`);
  }
  return { path: DEFAULT_PYTHON, source: 'default' };
}
