import { describe, expect, it } from 'vitest';
import { describeModels, formatUsd, FusionTracker, shortModel } from '../src/tracker';

const U = 'file:///a.py';

describe('FusionTracker', () => {
  it('binds a progress view to the first matching fusion after its mark', () => {
    const t = new FusionTracker();
    t.applyFusionStatus({ fusionId: 'old', uri: U, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    const mark = t.mark;
    t.applyFusionStatus({ fusionId: 'x', uri: U, task: 'explain', state: 'started', inFlight: 2, sessionCostUsd: 0 });
    t.applyFusionStatus({ fusionId: 'y', uri: U, task: 'review', state: 'started', inFlight: 3, sessionCostUsd: 0 });
    expect(t.find(U, 'review', mark, new Set())?.fusionId).toBe('y');
    expect(t.find(U, 'fix', mark, new Set())?.fusionId).toBe('x');
    expect(t.find('file:///b.py', 'review', mark, new Set())).toBeUndefined();
  });

  it('keeps a few finished fusions and counts the running ones', () => {
    const t = new FusionTracker();
    for (let i = 0; i < 8; i++) {
      t.applyModelStatus({ fusionId: `f${i}`, uri: U, task: 'review', model: 'a/m', index: 0, state: 'started' });
      t.applyFusionStatus({ fusionId: `f${i}`, uri: U, task: 'review', state: 'finished', inFlight: 0, sessionCostUsd: i });
    }
    expect(t.recent()).toHaveLength(5);
    expect(t.recent()[0].fusionId).toBe('f7');
    expect(t.inFlight).toBe(0);
    expect(t.sessionCostUsd).toBe(7);
  });

  it('counts fusions in flight itself: the server still counts a fusion in its own finished notification', () => {
    const t = new FusionTracker();
    t.applyFusionStatus({ fusionId: 'a', uri: U, task: 'review', state: 'started', inFlight: 1, sessionCostUsd: 0 });
    expect(t.inFlight).toBe(1);
    t.applyFusionStatus({ fusionId: 'a', uri: U, task: 'review', state: 'finished', inFlight: 1, sessionCostUsd: 0.1 });
    expect(t.inFlight).toBe(0);
  });

  it('ignores malformed notifications', () => {
    const t = new FusionTracker();
    t.applyModelStatus(null as never);
    t.applyFusionStatus({} as never);
    expect(t.recent()).toEqual([]);
  });

  it('formats models and money', () => {
    expect(shortModel('anthropic/claude-sonnet-4.5')).toBe('claude-sonnet-4.5');
    expect(shortModel('llama3.1:8b')).toBe('llama3.1:8b');
    expect(formatUsd(0.0004)).toBe('$0.0004');
    expect(formatUsd(1.234)).toBe('$1.23');
    expect(formatUsd(undefined)).toBe('$0.00');
    expect(
      describeModels({
        fusionId: 'f',
        uri: U,
        task: 'review',
        state: 'judging',
        seq: 1,
        models: [{ model: 'a/x', index: 0, state: 'cancelled' }],
      }),
    ).toBe('x ⊘ · judging');
  });
});
