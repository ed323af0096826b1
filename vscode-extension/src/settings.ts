/**
 * The `fuseLs.*` settings and how they become the server's settings object.
 *
 * Pure module (no `vscode` import) so that the same code runs in the extension, in the
 * unit tests and in `scripts/print-launch.js`, which the Python protocol test uses to
 * start the real server exactly as the extension would.
 */

/** Settings that only the extension reads; the server must never see them. */
export const CLIENT_ONLY_SETTINGS: readonly string[] = ['interpreter', 'trace.server'];

/**
 * Every server setting the extension contributes, as VS Code keys relative to `fuseLs.`.
 * They are sent as written (`quorum: {minResponses: 2}`); the server reads camelCase as its
 * snake_case keys. `package.json` must contribute exactly these keys plus the client-only
 * ones (a unit test checks it; a Python test checks the defaults against the server).
 */
export const SERVER_SETTINGS: readonly string[] = [
  'pool',
  'judge',
  'mode',
  'quorum.minResponses',
  'quorum.deadlineS',
  'timeouts.connectS',
  'timeouts.requestS',
  'timeouts.firstTokenS',
  'retries.maxAttempts',
  'retries.backoffBaseS',
  'retries.backoffMaxS',
  'budget.maxUsdPerRequest',
  'budget.maxUsdPerDay',
  'provider.baseUrl',
  'provider.apiKeyEnv',
  'provider.referer',
  'provider.title',
  'provider.denyDataCollection',
  'debate.rounds',
  'review.contextLines',
  'review.redactSecrets',
  'review.minVotesForWarning',
  'telemetry.enabled',
  'telemetry.recordContent',
  'telemetry.retentionDays',
  'telemetry.maxTotalMb',
  'telemetry.maxLinesPerFile',
  'telemetry.dataDir',
  'telemetry.otel',
  'telemetry.otelEndpoint',
  'telemetry.otelContent',
  'verify.commands',
  'verify.timeoutS',
  'verify.maxOutputKb',
  'verify.concurrency',
];

/** Settings whose change needs a new server process rather than a configuration push. */
export const RESTART_SETTINGS: readonly string[] = ['interpreter', 'provider.apiKeyEnv'];

export const DEFAULT_API_KEY_ENV = 'OPENROUTER_API_KEY';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type ServerSettings = { [key: string]: JsonValue };

/**
 * Reads one setting. Returns undefined when the user did not set it anywhere (user,
 * workspace or folder): such settings are left out so that the server's own layers
 * (its defaults, `~/.config/fuse-ls/config.toml`, `.fuse-ls.toml`, `pyproject.toml`)
 * keep working. Sending VS Code's defaults would silently override the user's files,
 * because editor settings rank above files in the server's precedence.
 */
export type SettingReader = (key: string) => unknown;

/**
 * Keys go to the server spelled as the user wrote them (`minResponses`, a pool entry's
 * `maxTokens` or `max_tokens`): the server converts them itself and names a bad one the
 * way it was sent, so its message shows `fuseLs.quorum.minResponses`, the id the user
 * finds in settings.json.
 */
function asSent(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value ?? null)) as JsonValue;
}

/** Builds the object sent as `initializationOptions` and as the `fuseLs` section. */
export function buildServerSettings(read: SettingReader): ServerSettings {
  const result: ServerSettings = {};
  for (const key of SERVER_SETTINGS) {
    const value = read(key);
    if (value === undefined) {
      continue;
    }
    const path = key.split('.');
    let node = result;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) {
        node[segment] = {};
      }
      node = node[segment] as ServerSettings;
    }
    node[path[path.length - 1]] = asSent(value);
  }
  return result;
}

/**
 * Flattens a settings.json-like object (`{"fuseLs.quorum.minResponses": 2}` or
 * `{"fuseLs.quorum": {"minResponses": 2}}`) into a reader over known keys. Used by the
 * launch script; the extension reads VS Code's configuration instead.
 */
export function readerFromJson(json: Record<string, unknown>, section = 'fuseLs'): SettingReader {
  return (key: string) => {
    const flat = json[`${section}.${key}`];
    if (flat !== undefined) {
      return flat;
    }
    let node: unknown = json[section];
    for (const segment of key.split('.')) {
      if (node === null || typeof node !== 'object') {
        return undefined;
      }
      node = (node as Record<string, unknown>)[segment];
    }
    return node;
  };
}

/** Returns the sub-object at a dotted section below `fuseLs` (for `workspace/configuration`). */
export function sectionOf(settings: ServerSettings, subsection: string): JsonValue | undefined {
  let node: JsonValue | undefined = settings;
  for (const segment of subsection.split('.').filter((s) => s.length > 0)) {
    if (node === null || node === undefined || typeof node !== 'object' || Array.isArray(node)) {
      return undefined;
    }
    node = node[segment];
  }
  return node;
}
