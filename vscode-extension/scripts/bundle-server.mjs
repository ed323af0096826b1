// Puts the fuse-ls server into bundled/libs, the copy the .vsix ships (the convention of
// Microsoft's Python tools extension template): the pinned pure-Python dependencies of
// bundled/requirements.txt plus fuse-ls built from this checkout. The extension runs it
// with the user's Python (3.11+) and PYTHONPATH=bundled/libs.
//
// Only universal wheels (py3-none-any) are accepted, so the copy works on every OS and
// CPU. watchfiles (compiled) is left out on purpose: the server falls back to polling
// when it is missing, and VS Code watches the settings files for it anyway.
//
// Python: $FUSE_LS_BUNDLE_PYTHON, else the repository's .venv, else python3 (needs pip).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = resolve(import.meta.dirname, '..');
const repo = resolve(here, '..');
const target = join(here, 'bundled', 'libs');
const venvPython = join(repo, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const python = process.env.FUSE_LS_BUNDLE_PYTHON ?? (existsSync(venvPython) ? venvPython : 'python3');

const pip = (...args) =>
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-compile', '--no-deps', '--target', target, ...args], {
    stdio: 'inherit',
    cwd: here,
  });

rmSync(target, { recursive: true, force: true });
pip('--only-binary=:all:', '--implementation', 'py', '--python-version', '3.11', '--abi', 'none', '--platform', 'any', '-r', join(here, 'bundled', 'requirements.txt'));
pip(repo);

// Console scripts point at the build machine's Python; caches are build debris.
rmSync(join(target, 'bin'), { recursive: true, force: true });
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === '__pycache__') {
      rmSync(path, { recursive: true, force: true });
    } else if (statSync(path).isDirectory()) {
      walk(path);
    } else if (/\.(so|pyd|dylib)$/.test(name)) {
      throw new Error(`bundle-server: ${path} is compiled; the bundle must be pure Python`);
    }
  }
};
walk(target);
const version = readdirSync(target).find((n) => /^fuse_ls-.*\.dist-info$/.test(n));
console.log(`bundled ${version ?? 'fuse-ls (no dist-info!)'} and ${readdirSync(target).filter((n) => n.endsWith('.dist-info')).length - 1} dependencies into bundled/libs`);
