import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/activation';
import { CLIENT_ONLY_SETTINGS, SERVER_SETTINGS } from '../src/settings';
import { fake } from './fakes/vscode';
import { activate, PYTHON, resetFakes } from './helpers';

const root = path.join(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

beforeEach(resetFakes);

describe('activation', () => {
  it('registers every command the manifest contributes, and only those', async () => {
    await activate();
    const contributed = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    expect([...fake.commands.keys()].sort()).toEqual(contributed);
    expect([...COMMANDS].sort()).toEqual(contributed);
  });

  it('names the commands as the issue asks', () => {
    const titles = Object.fromEntries(manifest.contributes.commands.map((c: { command: string; title: string }) => [c.command, c.title]));
    expect(titles).toMatchObject({
      'fuseLs.review': 'Fused review of selection',
      'fuseLs.explain': 'Explain with consensus',
      'fuseLs.fix': 'Fused fix',
      'fuseLs.cancel': 'Cancel fusion',
      'fuseLs.showStats': 'Show usage and cost',
      'fuseLs.setApiKey': 'Set API key',
      'fuseLs.choosePool': 'Choose model pool',
      'fuseLs.selectInterpreter': 'Choose the Python interpreter',
    });
  });

  it('puts review/explain/fix in the editor context menu for a selection', () => {
    const context = manifest.contributes.menus['editor/context'];
    expect(context.map((m: { command: string }) => m.command)).toEqual(['fuseLs.review', 'fuseLs.explain', 'fuseLs.fix']);
    for (const entry of context) {
      expect(entry.when).toContain('editorHasSelection');
    }
    const known = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
    for (const entry of [...context, ...manifest.contributes.menus.commandPalette]) {
      expect(known.has(entry.command)).toBe(true);
    }
  });

  it('contributes exactly the server settings plus the client-only ones', () => {
    const keys = Object.keys(manifest.contributes.configuration.properties).map((k) => k.replace(/^fuseLs\./, ''));
    expect(keys.sort()).toEqual([...SERVER_SETTINGS, ...CLIENT_ONLY_SETTINGS].sort());
    for (const [key, schema] of Object.entries<{ markdownDescription?: string; description?: string }>(manifest.contributes.configuration.properties)) {
      expect(schema.markdownDescription ?? schema.description, key).toBeTruthy();
    }
  });

  it('has a walkthrough whose media and commands exist', () => {
    const [walkthrough] = manifest.contributes.walkthroughs;
    const known = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
    expect(walkthrough.steps.map((s: { id: string }) => s.id)).toEqual(['python', 'key', 'local', 'review']);
    for (const step of walkthrough.steps) {
      expect(existsSync(path.join(root, step.media.markdown)), step.media.markdown).toBe(true);
      for (const match of step.description.matchAll(/command:([\w.]+)/g)) {
        expect(known.has(match[1]), match[1]).toBe(true);
      }
    }
  });

  it('bundles to the main the manifest names and targets VS Code 1.90', () => {
    expect(manifest.main).toBe('./dist/extension.js');
    expect(manifest.engines.vscode).toBe('^1.90.0');
    expect(manifest.activationEvents).toContain('onStartupFinished');
  });

  it('starts the server and shows it in the status bar', async () => {
    const { server, api } = await activate();
    expect(server.versionCalls).toEqual([{ command: PYTHON, args: ['-m', 'fuse_ls', '--version'], env: { PYTHONSAFEPATH: '1' } }]);
    expect(server.last.started).toBe(true);
    expect(api.manager.state).toEqual({ kind: 'running', version: '0.1.0', python: PYTHON, bundled: false });
    const item = fake.statusItems[0];
    expect(item.visible).toBe(true);
    expect(item.text).toContain('fuse-ls');
    expect(item.command).toBe('fuseLs.showStats');
  });

  it('restarts the server when the interpreter setting changes, pushes other settings', async () => {
    const { server } = await activate();
    fake.setSetting('fuseLs.mode', 'debate');
    await new Promise((r) => setTimeout(r, 0));
    expect(server.clients).toHaveLength(1);
    expect(server.last.notifications).toEqual([
      { method: 'workspace/didChangeConfiguration', params: { settings: { fuseLs: { mode: 'debate' } } } },
    ]);
    fake.setSetting('fuseLs.interpreter', '/other/python');
    await new Promise((r) => setTimeout(r, 10));
    expect(server.clients).toHaveLength(2);
    expect(server.clients[0].stopped).toBe(true);
    expect(server.last.started).toBe(true);
  });
});
