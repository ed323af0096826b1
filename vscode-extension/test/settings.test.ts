import { beforeEach, describe, expect, it } from 'vitest';
import { vscodeReader } from '../src/configuration';
import { buildServerSettings, readerFromJson, sectionOf } from '../src/settings';
import { fake } from './fakes/vscode';

beforeEach(() => fake.reset());

describe('settings -> server settings', () => {
  it('sends keys as VS Code spells them, nested by section', () => {
    // The server names a bad key as sent: `fuseLs.quorum.minResponses`, findable in settings.json.
    const settings = buildServerSettings(
      readerFromJson({
        'fuseLs.quorum.minResponses': 2,
        'fuseLs.quorum.deadlineS': 30,
        'fuseLs.budget.maxUsdPerRequest': null,
        'fuseLs.provider.baseUrl': 'http://localhost:11434/v1',
        'fuseLs.review.minVotesForWarning': 1,
        'fuseLs.telemetry.recordContent': true,
        'fuseLs.mode': 'debate',
        'fuseLs.debate.rounds': 2,
      }),
    );
    expect(settings).toEqual({
      quorum: { minResponses: 2, deadlineS: 30 },
      budget: { maxUsdPerRequest: null },
      provider: { baseUrl: 'http://localhost:11434/v1' },
      review: { minVotesForWarning: 1 },
      telemetry: { recordContent: true },
      mode: 'debate',
      debate: { rounds: 2 },
    });
  });

  it('drops the client-only settings and unknown keys', () => {
    const settings = buildServerSettings(
      readerFromJson({
        'fuseLs.interpreter': '/usr/bin/python3',
        'fuseLs.trace.server': 'verbose',
        'fuseLs.somethingElse': 1,
        'fuseLs.judge': 'openai/gpt-5-mini',
      }),
    );
    expect(settings).toEqual({ judge: 'openai/gpt-5-mini' });
  });

  it('sends model objects in pool and judge as the user wrote them', () => {
    const settings = buildServerSettings(
      readerFromJson({
        fuseLs: {
          pool: ['a/x', { id: 'b/y', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'B_KEY', maxTokens: 100, repeat: 2 }],
          judge: { id: 'c/z', temperature: 0 },
        },
      }),
    );
    expect(settings).toEqual({
      pool: ['a/x', { id: 'b/y', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'B_KEY', maxTokens: 100, repeat: 2 }],
      judge: { id: 'c/z', temperature: 0 },
    });
  });

  it('sends only what the user set, so the server\'s config files still apply', () => {
    expect(buildServerSettings(vscodeReader())).toEqual({});
    fake.setSetting('fuseLs.quorum.minResponses', 2);
    fake.setSetting('fuseLs.pool', ['a/x'], 'workspace');
    fake.setSetting('fuseLs.interpreter', '/usr/bin/python3');
    fake.setSetting('fuseLs.trace.server', 'verbose');
    expect(buildServerSettings(vscodeReader())).toEqual({ quorum: { minResponses: 2 }, pool: ['a/x'] });
  });

  it('keeps an explicit null (no limit) apart from unset', () => {
    fake.setSetting('fuseLs.budget.maxUsdPerDay', null);
    expect(buildServerSettings(vscodeReader())).toEqual({ budget: { maxUsdPerDay: null } });
  });

  it('answers sub-sections for workspace/configuration', () => {
    const settings = { quorum: { minResponses: 2 }, mode: 'merge' };
    expect(sectionOf(settings, '')).toBe(settings);
    expect(sectionOf(settings, 'quorum')).toEqual({ minResponses: 2 });
    expect(sectionOf(settings, 'quorum.minResponses')).toBe(2);
    expect(sectionOf(settings, 'nothing')).toBeUndefined();
  });
});
