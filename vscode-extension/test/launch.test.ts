import { describe, expect, it } from 'vitest';
import { buildLaunch, compareVersions, SAFE_PATH_ENV, isDevelopmentVersion, minimumVersion, parseServerVersion, pythonTooOld } from '../src/launch';
import { readerFromJson } from '../src/settings';

describe('launch', () => {
  it('runs `<python> -m fuse_ls serve` with the key only in the environment', () => {
    const launch = buildLaunch({
      python: '/venv/bin/python',
      read: readerFromJson({ 'fuseLs.mode': 'merge' }),
      apiKey: 'sk-or-v1-secret',
      baseEnv: { PATH: '/bin', HOME: '/home/u', UNSET: undefined },
      cwd: '/ws',
    });
    expect(launch.command).toBe('/venv/bin/python');
    expect(launch.args).toEqual(['-m', 'fuse_ls', 'serve']);
    expect(launch.env).toEqual({ PATH: '/bin', HOME: '/home/u', PYTHONSAFEPATH: '1', OPENROUTER_API_KEY: 'sk-or-v1-secret' });
    expect(launch.envKeys).toEqual(['PYTHONSAFEPATH', 'OPENROUTER_API_KEY']);
    expect(launch.cwd).toBe('/ws');
    expect(JSON.stringify(launch.initializationOptions)).not.toContain('sk-or-v1-secret');
  });

  it('uses the variable named by provider.apiKeyEnv', () => {
    const launch = buildLaunch({
      python: 'python3',
      read: readerFromJson({ 'fuseLs.provider.apiKeyEnv': 'MY_KEY' }),
      apiKey: 'k-123456',
      baseEnv: {},
    });
    expect(launch.env).toEqual({ PYTHONSAFEPATH: '1', MY_KEY: 'k-123456' });
    expect(launch.initializationOptions).toEqual({ provider: { apiKeyEnv: 'MY_KEY' }, workspaceTrusted: false });
  });

  it('says whether the workspace is trusted (coord.md protocol), untrusted unless told', () => {
    const read = readerFromJson({});
    expect(buildLaunch({ python: 'p', read, baseEnv: {}, workspaceTrusted: true }).initializationOptions).toEqual({ workspaceTrusted: true });
    expect(buildLaunch({ python: 'p', read, baseEnv: {} }).initializationOptions).toEqual({ workspaceTrusted: false });
  });

  it('puts the bundled server first on PYTHONPATH, keeping an inherited one after it', () => {
    const read = readerFromJson({});
    const launch = buildLaunch({ python: 'p', read, baseEnv: { PYTHONPATH: '/mine' }, bundledLibs: '/ext/bundled/libs' });
    expect(launch.bundled).toBe(true);
    expect(launch.env.PYTHONPATH).toBe(`/ext/bundled/libs${process.platform === 'win32' ? ';' : ':'}/mine`);
    expect(launch.args).toEqual(['-m', 'fuse_ls', 'serve']);
    expect(buildLaunch({ python: 'p', read, baseEnv: { PYTHONPATH: '/mine' } }).env.PYTHONPATH).toBe('/mine');
  });

  it('knows which Python is too old for the bundled server', () => {
    expect(pythonTooOld('3.10.12')).toBe('3.10.12');
    expect(pythonTooOld('2.7.18')).toBe('2.7.18');
    expect(pythonTooOld('3.11.0')).toBeUndefined();
    expect(pythonTooOld('3.14.1')).toBeUndefined();
    expect(pythonTooOld('')).toBeUndefined();
  });

  it('inherits the environment without a stored key (only the safe import path added)', () => {
    const launch = buildLaunch({ python: 'python3', read: readerFromJson({}), baseEnv: { OPENROUTER_API_KEY: 'from-shell' } });
    expect(launch.env).toEqual({ OPENROUTER_API_KEY: 'from-shell', PYTHONSAFEPATH: '1' });
    expect(launch.envKeys).toEqual(['PYTHONSAFEPATH']);
  });

  it("never imports a `fuse_ls` package from the workspace folder it runs in", () => {
    // `python -m fuse_ls` puts its working directory (the workspace) first on sys.path: a
    // repository holding fuse_ls/__init__.py + __main__.py ran its own code when opened.
    const launch = buildLaunch({ python: 'p', read: readerFromJson({}), baseEnv: { PYTHONSAFEPATH: '' }, cwd: '/ws' });
    expect(launch.env.PYTHONSAFEPATH).toBe('1');
    const bundled = buildLaunch({ python: 'p', read: readerFromJson({}), baseEnv: {}, bundledLibs: '/ext/libs' });
    expect(bundled.env.PYTHONSAFEPATH).toBe('1');
    expect(SAFE_PATH_ENV).toEqual({ PYTHONSAFEPATH: '1' });
  });

  it('parses and compares server versions', () => {
    const v = parseServerVersion('fuse-ls 0.2.10\n');
    expect(v).toMatchObject({ major: 0, minor: 2, patch: 10, text: '0.2.10' });
    expect(compareVersions(v!, minimumVersion())).toBeGreaterThan(0);
    expect(compareVersions(parseServerVersion('fuse-ls 0.0.9')!, minimumVersion())).toBeLessThan(0);
    expect(parseServerVersion('fuse-ls 1.0.0rc1')?.text).toBe('1.0.0rc1');
    expect(parseServerVersion('Python 3.11.7')).toBeUndefined();
    expect(isDevelopmentVersion(parseServerVersion('fuse-ls 0.0.0')!)).toBe(true);
  });
});
