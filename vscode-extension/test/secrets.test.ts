import { beforeEach, describe, expect, it } from 'vitest';
import { API_KEY_SECRET } from '../src/secrets';
import { settle } from './fakes/client';
import { fake } from './fakes/vscode';
import { activate, resetFakes } from './helpers';

const KEY = 'sk-or-v1-0123456789abcdef';

beforeEach(resetFakes);

describe('API key', () => {
  it('asks with a password box and stores the key in SecretStorage only', async () => {
    const { server, context } = await activate();
    fake.inputAnswers.push(`  ${KEY}  `);
    await fake.commands.get('fuseLs.setApiKey')!();
    expect(fake.inputBoxes[0]).toMatchObject({ password: true, ignoreFocusOut: true });
    expect(String(fake.inputBoxes[0].prompt)).toContain('OPENROUTER_API_KEY');
    expect(context._store.get(API_KEY_SECRET)).toBe(KEY);
    expect(JSON.stringify(fake.settings)).not.toContain(KEY);
    await settle();
    // The key changed: a new server process with the key in its environment.
    expect(server.clients).toHaveLength(2);
    expect(server.clients[0].stopped).toBe(true);
    expect(server.last.spec.launch.env.OPENROUTER_API_KEY).toBe(KEY);
  });

  it('hands the stored key over in the environment variable, never in options or logs', async () => {
    fake.setSetting('fuseLs.provider.apiKeyEnv', 'FUSE_TEST_KEY');
    const { server } = await activate({
      before: (_s, context) => {
        context._store.set(API_KEY_SECRET, KEY);
      },
    });
    const { launch, clientOptions } = server.last.spec;
    expect(launch.env.FUSE_TEST_KEY).toBe(KEY);
    expect(launch.envKeys).toEqual(['PYTHONSAFEPATH', 'FUSE_TEST_KEY']);
    expect(JSON.stringify(clientOptions.initializationOptions)).not.toContain(KEY);
    expect(JSON.stringify(launch.initializationOptions)).not.toContain(KEY);
    expect(fake.output).toContain('FUSE_TEST_KEY from secret storage');
    // Even if the server echoed its environment on stderr, the channel masks the key.
    server.last.writeServerStderr(`env: FUSE_TEST_KEY=${KEY}\n`);
    expect(fake.output).toContain('FUSE_TEST_KEY=[redacted]');
    expect(fake.output).not.toContain(KEY);
  });

  it('removes the key on an empty answer and leaves it alone on Escape', async () => {
    const { context } = await activate({
      before: (_s, ctx) => {
        ctx._store.set(API_KEY_SECRET, KEY);
      },
    });
    fake.inputAnswers.push(undefined);
    await fake.commands.get('fuseLs.setApiKey')!();
    expect(context._store.get(API_KEY_SECRET)).toBe(KEY);
    fake.inputAnswers.push('');
    await fake.commands.get('fuseLs.setApiKey')!();
    expect(context._store.has(API_KEY_SECRET)).toBe(false);
    expect(fake.messages.some((m) => m.text.includes('removed'))).toBe(true);
  });

  it('never lets the key into the output channel or messages during a whole session', async () => {
    const { server } = await activate({
      before: (_s, context) => {
        context._store.set(API_KEY_SECRET, KEY);
      },
    });
    fake.setEditor('file:///ws/app.py', 'x = eval(input())\n', [0, 0, 1, 0]);
    server.responder = () => {
      throw new Error(`401 bad key ${KEY}`);
    };
    await fake.commands.get('fuseLs.review')!();
    fake.setSetting('fuseLs.trace.server', 'verbose');
    await fake.commands.get('fuseLs.restartServer')!();
    expect(fake.output).not.toContain(KEY);
    expect(fake.output).toContain('[redacted]');
    expect(fake.messages[0].text).toContain('401 bad key [redacted]');
    expect(JSON.stringify(fake.messages)).not.toContain(KEY);
  });
});
