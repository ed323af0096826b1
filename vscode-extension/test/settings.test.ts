import { beforeEach, describe, expect, it } from 'vitest';
import { vscodeReader } from '../src/configuration';
import { buildServerSettings, camelToSnake, readerFromJson, sectionOf } from '../src/settings';
import { fake } from './fakes/vscode';

beforeEach(() => fake.reset());

describe('settings -> server settings', () => {
  it('converts keys to the server\'s snake_case, nested by section', () => {
    expect(camelToSnake('minResponses')).toBe('min_responses');
    expect(camelToSnake('deadlineS')).toBe('deadline_s');
    expect(camelToSnake('maxUsdPerRequest')).toBe('max_usd_per_request');
    expect(camelToSnake('maxTotalMb')).toBe('max_total_mb');
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
      quorum: { min_responses: 2, deadline_s: 30 },
      budget: { max_usd_per_request: null },
      provider: { base_url: 'http://localhost:11434/v1' },
      review: { min_votes_for_warning: 1 },
      telemetry: { record_content: true },
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

  it('normalises model objects in pool and judge', () => {
    const settings = buildServerSettings(
      readerFromJson({
        fuseLs: {
          pool: ['a/x', { id: 'b/y', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'B_KEY', maxTokens: 100, repeat: 2 }],
          judge: { id: 'c/z', temperature: 0 },
        },
      }),
    );
    expect(settings).toEqual({
      pool: ['a/x', { id: 'b/y', base_url: 'http://127.0.0.1:8000/v1', api_key_env: 'B_KEY', max_tokens: 100, repeat: 2 }],
      judge: { id: 'c/z', temperature: 0 },
    });
  });

  it('sends only what the user set, so the server\'s config files still apply', () => {
    expect(buildServerSettings(vscodeReader())).toEqual({});
    fake.setSetting('fuseLs.quorum.minResponses', 2);
    fake.setSetting('fuseLs.pool', ['a/x'], 'workspace');
    fake.setSetting('fuseLs.interpreter', '/usr/bin/python3');
    fake.setSetting('fuseLs.trace.server', 'verbose');
    expect(buildServerSettings(vscodeReader())).toEqual({ quorum: { min_responses: 2 }, pool: ['a/x'] });
  });

  it('keeps an explicit null (no limit) apart from unset', () => {
    fake.setSetting('fuseLs.budget.maxUsdPerDay', null);
    expect(buildServerSettings(vscodeReader())).toEqual({ budget: { max_usd_per_day: null } });
  });

  it('answers sub-sections for workspace/configuration', () => {
    const settings = { quorum: { min_responses: 2 }, mode: 'merge' };
    expect(sectionOf(settings, '')).toBe(settings);
    expect(sectionOf(settings, 'quorum')).toEqual({ min_responses: 2 });
    expect(sectionOf(settings, 'quorum.minResponses')).toBe(2);
    expect(sectionOf(settings, 'nothing')).toBeUndefined();
  });
});
