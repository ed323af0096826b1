/** "Choose model pool": presets or free model ids, written to `fuseLs.pool` / `fuseLs.judge`. */
import * as vscode from 'vscode';
import { SECTION, targetFor } from './configuration';

export const OLLAMA_BASE_URL = 'http://localhost:11434/v1';

export interface PoolPreset {
  label: string;
  pool: string[];
  judge: string;
  /** Set for presets that talk to another endpoint than the provider default. */
  baseUrl?: string;
  note: string;
}

export const PRESETS: readonly PoolPreset[] = [
  {
    label: 'Frontier trio',
    pool: ['anthropic/claude-sonnet-4.5', 'openai/gpt-5', 'google/gemini-2.5-pro'],
    judge: 'openai/gpt-5-mini',
    note: 'the server default; strongest answers, highest cost (OpenRouter key)',
  },
  {
    label: 'Budget trio',
    pool: ['deepseek/deepseek-chat-v3.1', 'qwen/qwen3-coder', 'google/gemini-2.5-flash'],
    judge: 'openai/gpt-5-mini',
    note: 'a fraction of the cost (OpenRouter key)',
  },
  {
    label: 'Local (Ollama)',
    pool: ['qwen2.5-coder:7b', 'llama3.1:8b', 'gemma2:9b'],
    judge: 'qwen2.5-coder:7b',
    baseUrl: OLLAMA_BASE_URL,
    note: 'no key, nothing leaves the machine; run `ollama serve` and `ollama pull` each model',
  },
];

const CUSTOM = '$(edit) Enter model ids…';

interface PresetItem extends vscode.QuickPickItem {
  preset?: PoolPreset;
}

function modelId(entry: unknown): string | undefined {
  if (typeof entry === 'string') {
    return entry;
  }
  if (entry !== null && typeof entry === 'object' && typeof (entry as { id?: unknown }).id === 'string') {
    return (entry as { id: string }).id;
  }
  return undefined;
}

export function isLocalUrl(url: unknown): boolean {
  return typeof url === 'string' && /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i.test(url);
}

export function parseModelIds(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function choosePool(): Promise<PoolPreset | undefined> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const currentPool = (config.get<unknown[]>('pool') ?? []).map(modelId).filter((id): id is string => id !== undefined);
  const currentJudge = modelId(config.get('judge')) ?? '';
  const items: PresetItem[] = PRESETS.map((preset) => ({
    label: preset.label,
    description: `${sameModels(preset.pool, currentPool) ? '(current) ' : ''}judge ${preset.judge}${preset.baseUrl ? ` · ${preset.baseUrl}` : ''}`,
    detail: `${preset.pool.join(', ')}: ${preset.note}`,
    preset,
  }));
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator }, { label: CUSTOM, detail: `now: ${currentPool.join(', ')} · judge ${currentJudge}` });
  const picked = await vscode.window.showQuickPick(items, {
    title: 'fuse-ls: choose the model pool',
    placeHolder: 'Who answers, and who fuses the answers',
    matchOnDetail: true,
  });
  if (!picked) {
    return undefined;
  }
  const chosen = picked.preset ?? (await askCustom(currentPool, currentJudge));
  if (!chosen) {
    return undefined;
  }
  await apply(chosen);
  void vscode.window.showInformationMessage(`fuse-ls: pool set to ${chosen.pool.join(', ')} (judge ${chosen.judge}).`);
  return chosen;
}

async function askCustom(currentPool: string[], currentJudge: string): Promise<PoolPreset | undefined> {
  const models = await vscode.window.showInputBox({
    title: 'fuse-ls: model pool',
    prompt: 'Model ids, separated by commas (OpenRouter ids such as openai/gpt-5, or your endpoint\'s names)',
    value: currentPool.join(', '),
    ignoreFocusOut: true,
    validateInput: (text) => (parseModelIds(text).length === 0 ? 'Give at least one model id' : undefined),
  });
  if (models === undefined) {
    return undefined;
  }
  const judge = await vscode.window.showInputBox({
    title: 'fuse-ls: judge model',
    prompt: 'The model that fuses the answers',
    value: currentJudge,
    ignoreFocusOut: true,
    validateInput: (text) => (text.trim() === '' ? 'Give a model id' : undefined),
  });
  if (judge === undefined) {
    return undefined;
  }
  return { label: 'Custom', pool: parseModelIds(models), judge: judge.trim(), note: '' };
}

async function apply(preset: PoolPreset): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  await config.update('pool', preset.pool, targetFor('pool'));
  await config.update('judge', preset.judge, targetFor('judge'));
  if (preset.baseUrl !== undefined) {
    await config.update('provider.baseUrl', preset.baseUrl, targetFor('provider.baseUrl'));
  } else if (preset.label !== 'Custom' && isLocalUrl(config.get('provider.baseUrl'))) {
    // Going back to a cloud preset from Ollama: the local endpoint would not know these ids.
    await config.update('provider.baseUrl', undefined, targetFor('provider.baseUrl'));
  }
}

function sameModels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
