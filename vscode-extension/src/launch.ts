/**
 * How the extension starts the server: command line, environment and initialization
 * options. Pure (no `vscode` import) so `scripts/print-launch.js` can print exactly what
 * the extension would run, for the Python protocol test.
 */
import { buildServerSettings, DEFAULT_API_KEY_ENV, type ServerSettings, type SettingReader } from './settings';

/** Oldest server this extension speaks to (commands, notifications of docs/protocol.md). */
export const MIN_SERVER_VERSION = '0.1.0';

export const SERVER_ARGS: readonly string[] = ['-m', 'fuse_ls', 'serve'];
export const VERSION_ARGS: readonly string[] = ['-m', 'fuse_ls', '--version'];
/** Prints `3.12.1`: asked only to explain why the bundled server did not start. */
export const PYTHON_VERSION_ARGS: readonly string[] = ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'];
/**
 * `python -m` puts its working directory first on sys.path, and the server runs in the
 * workspace folder: a repository holding `fuse_ls/__init__.py` and `__main__.py` would
 * be imported instead of fuse-ls and run its own code as soon as the folder is opened
 * (trusted or not). PYTHONSAFEPATH (Python 3.11+, which the server needs) leaves it off.
 * Set on the version check too, so that it checks what the server will import.
 */
export const SAFE_PATH_ENV: Readonly<Record<string, string>> = { PYTHONSAFEPATH: '1' };

/** The bundled server's dependencies are pinned for this Python and newer (pyproject.toml). */
export const MIN_PYTHON = '3.11';

/**
 * The environment that makes `python -m fuse_ls` import the copy bundled in the .vsix
 * (`bundled/libs`, pure Python): PYTHONPATH goes first on sys.path, so the bundled, pinned
 * dependencies win over whatever else the interpreter has installed.
 */
export function bundledEnv(libs: string, baseEnv: Record<string, string | undefined>, separator = process.platform === 'win32' ? ';' : ':'): Record<string, string> {
  const inherited = baseEnv.PYTHONPATH;
  return {
    PYTHONPATH: inherited ? `${libs}${separator}${inherited}` : libs,
    // The extension directory may be read-only and is replaced on update: no .pyc there.
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** `3.10.4` < 3.11? */
export function pythonTooOld(output: string): string | undefined {
  const match = /(\d+)\.(\d+)(\.\d+)?/.exec(output);
  if (!match) {
    return undefined;
  }
  const [major, minor] = MIN_PYTHON.split('.').map(Number);
  const old = Number(match[1]) < major || (Number(match[1]) === major && Number(match[2]) < minor);
  return old ? match[0] : undefined;
}

export interface LaunchInput {
  python: string;
  read: SettingReader;
  /** The effective `provider.apiKeyEnv` (user value or default), even if not sent. */
  apiKeyEnv?: string;
  /** From SecretStorage; undefined when no key was stored (the inherited env may hold one). */
  apiKey?: string;
  baseEnv: Record<string, string | undefined>;
  cwd?: string;
  /** vscode.workspace.isTrusted; the server treats a client that does not say as untrusted (coord.md). */
  workspaceTrusted?: boolean;
  /** `bundled/libs` of the extension when the bundled server runs (the interpreter has no fuse-ls). */
  bundledLibs?: string;
}

export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Names of the variables the extension set on top of the inherited environment. */
  envKeys: string[];
  /** The one of them that holds the stored API key, if any. */
  keyEnv?: string;
  cwd?: string;
  /** The server copy bundled in the extension runs (not the interpreter's own). */
  bundled: boolean;
  initializationOptions: ServerSettings & { workspaceTrusted?: boolean };
}

export function apiKeyEnvName(read: SettingReader): string {
  const value = read('provider.apiKeyEnv');
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : DEFAULT_API_KEY_ENV;
}

export function buildLaunch(input: LaunchInput): Launch {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.baseEnv)) {
    if (v !== undefined) {
      env[k] = v;
    }
  }
  const envKeys: string[] = [];
  let keyEnv: string | undefined;
  for (const [k, v] of Object.entries(SAFE_PATH_ENV)) {
    env[k] = v;
    envKeys.push(k);
  }
  if (input.bundledLibs !== undefined) {
    for (const [k, v] of Object.entries(bundledEnv(input.bundledLibs, input.baseEnv))) {
      env[k] = v;
      envKeys.push(k);
    }
  }
  // The key travels only here: in the server's environment, as the protocol requires.
  if (input.apiKey !== undefined && input.apiKey !== '') {
    const name = input.apiKeyEnv ?? apiKeyEnvName(input.read);
    env[name] = input.apiKey;
    envKeys.push(name);
    keyEnv = name;
  }
  return {
    command: input.python,
    args: [...SERVER_ARGS],
    env,
    envKeys,
    keyEnv,
    cwd: input.cwd,
    bundled: input.bundledLibs !== undefined,
    initializationOptions: { ...buildServerSettings(input.read), workspaceTrusted: input.workspaceTrusted ?? false },
  };
}

export interface Version {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

/** Parses the first line of `python -m fuse_ls --version` (`fuse-ls X.Y.Z`). */
export function parseServerVersion(output: string): Version | undefined {
  const match = /fuse-ls\s+v?(\d+)\.(\d+)\.(\d+)\S*/.exec(output);
  if (!match) {
    return undefined;
  }
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    text: match[0].replace(/^fuse-ls\s+/, ''),
  };
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function minimumVersion(): Version {
  const v = parseServerVersion(`fuse-ls ${MIN_SERVER_VERSION}`);
  if (!v) {
    throw new Error('MIN_SERVER_VERSION is malformed');
  }
  return v;
}

/**
 * 0.0.0 is what an uninstalled source checkout reports (`fuse_ls/__init__.py`); treat it
 * as a developer's build and accept it rather than nagging contributors to reinstall.
 */
export function isDevelopmentVersion(v: Version): boolean {
  return v.major === 0 && v.minor === 0 && v.patch === 0;
}

// Re-exported for scripts/print-launch.js and print-capabilities.js, which load only this module's bundle.
export { ownProgressFeature } from './capabilities';
export { buildServerSettings, readerFromJson } from './settings';
