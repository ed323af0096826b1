/**
 * What the extension changes in the capabilities its language client announces. Pure
 * (no `vscode` import): scripts/print-capabilities.js registers the same feature, so the
 * Python protocol test sees what VS Code sends.
 */

interface Capabilities {
  window?: { workDoneProgress?: boolean } & Record<string, unknown>;
}

/**
 * No server-initiated work-done progress: the extension shows each fusion in one
 * cancellable notification built from `fuse/modelStatus`; VS Code would show the server's
 * progress as a second, status-bar display of the same thing.
 */
export const ownProgressFeature = {
  fillClientCapabilities(capabilities: Capabilities): void {
    capabilities.window = { ...(capabilities.window ?? {}), workDoneProgress: false };
  },
  getState(): { kind: 'static' } {
    return { kind: 'static' };
  },
  initialize(): void {},
  clear(): void {},
};
