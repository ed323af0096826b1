import { beforeEach, describe, expect, it } from 'vitest';
import { isLocalUrl, OLLAMA_BASE_URL, parseModelIds } from '../src/pool';
import { fake } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

beforeEach(resetFakes);

describe('choose model pool', () => {
  it('offers the presets and a free entry', async () => {
    await activate();
    await fake.commands.get('fuseLs.choosePool')!();
    const labels = fake.quickPicks[0].items.map((i) => i.label);
    expect(labels).toEqual(['Frontier trio', 'Budget trio', 'Local (Ollama)', '', '$(edit) Enter model ids…']);
    expect((fake.quickPicks[0].items[0] as { description?: string }).description).toContain('(current)');
    expect(fake.settings.global).toEqual({});
  });

  it('writes pool, judge and the Ollama endpoint for the local preset; pushes them to the server', async () => {
    const { server } = await activate();
    fake.pickAnswer = (items) => items.find((i) => i.label === 'Local (Ollama)');
    await fake.commands.get('fuseLs.choosePool')!();
    expect(fake.settings.global['fuseLs.pool']).toEqual(['qwen2.5-coder:7b', 'llama3.1:8b', 'gemma2:9b']);
    expect(fake.settings.global['fuseLs.judge']).toBe('qwen2.5-coder:7b');
    expect(fake.settings.global['fuseLs.provider.baseUrl']).toBe(OLLAMA_BASE_URL);
    await new Promise((r) => setTimeout(r, 0));
    const pushed = server.last.notifications.at(-1)?.params as { settings: { fuseLs: Record<string, unknown> } };
    expect(pushed.settings.fuseLs).toMatchObject({ provider: { baseUrl: OLLAMA_BASE_URL }, judge: 'qwen2.5-coder:7b' });

    // Back to a cloud preset: the local endpoint goes away.
    fake.pickAnswer = (items) => items.find((i) => i.label === 'Budget trio');
    await fake.commands.get('fuseLs.choosePool')!();
    expect(fake.settings.global['fuseLs.provider.baseUrl']).toBeUndefined();
    expect(fake.settings.global['fuseLs.pool']).toEqual(['deepseek/deepseek-chat-v3.1', 'qwen/qwen3-coder', 'google/gemini-2.5-flash']);
  });

  it('takes free model ids and a judge', async () => {
    await activate();
    fake.setSetting('fuseLs.pool', ['x/one'], 'workspace');
    fake.pickAnswer = (items) => items.at(-1);
    fake.inputAnswers.push('a/x, b/y  c/z', 'j/judge');
    await fake.commands.get('fuseLs.choosePool')!();
    expect(fake.inputBoxes[0].value).toBe('x/one');
    // Written where the user keeps the pool (workspace), the judge to user settings.
    expect(fake.settings.workspace['fuseLs.pool']).toEqual(['a/x', 'b/y', 'c/z']);
    expect(fake.settings.global['fuseLs.judge']).toBe('j/judge');
  });

  it('parses ids and recognises local endpoints', () => {
    expect(parseModelIds(' a/x,,b/y\nc ')).toEqual(['a/x', 'b/y', 'c']);
    expect(isLocalUrl('http://localhost:11434/v1')).toBe(true);
    expect(isLocalUrl('http://127.0.0.1:8000/v1')).toBe(true);
    expect(isLocalUrl('https://openrouter.ai/api/v1')).toBe(false);
  });
});
