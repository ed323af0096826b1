// Checks the packaged .vsix (a zip): it must hold the manifest and the bundle VS Code
// loads, the manifest's `main` must point at that bundle, and nothing from the build
// inputs (sources, node_modules, tests) may ship. No dependencies: a small zip reader.
import { readFileSync, readdirSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const file = process.argv[2] ?? `${pkg.name}-${pkg.version}.vsix`;
if (!readdirSync('.').includes(file)) {
  console.error(`check-vsix: ${file} not found`);
  process.exit(1);
}
const zip = readFileSync(file);

function entries(buf) {
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    out.set(name, { method, compressed, local });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function read(buf, entry) {
  const nameLen = buf.readUInt16LE(entry.local + 26);
  const extraLen = buf.readUInt16LE(entry.local + 28);
  const start = entry.local + 30 + nameLen + extraLen;
  const data = buf.subarray(start, start + entry.compressed);
  return entry.method === 0 ? data : inflateRawSync(data);
}

const files = entries(zip);
const problems = [];
// vsce renames README.md to readme.md and LICENSE to LICENSE.txt: compare loosely there.
const lower = new Set([...files.keys()].map((n) => n.toLowerCase()));
for (const required of ['extension/package.json', 'extension/dist/extension.js', 'extension.vsixmanifest']) {
  if (!files.has(required)) problems.push(`missing ${required}`);
}
for (const loose of [['extension/readme.md'], ['extension/license.txt', 'extension/license']]) {
  if (!loose.some((n) => lower.has(n))) problems.push(`missing ${loose[0]}`);
}
// The server ships inside (bundled/libs, scripts/bundle-server.mjs): pure Python only.
if (!files.has('extension/bundled/libs/fuse_ls/__init__.py')) problems.push('missing the bundled server (extension/bundled/libs/fuse_ls)');
if (![...files.keys()].some((n) => /^extension\/bundled\/libs\/fuse_ls-[^/]+\.dist-info\/METADATA$/.test(n))) {
  problems.push('the bundled server has no dist-info (it would report version 0.0.0)');
}
for (const dep of ['pygls', 'lsprotocol', 'httpx', 'attrs', 'cattrs']) {
  if (![...files.keys()].some((n) => n.startsWith(`extension/bundled/libs/${dep}/`))) problems.push(`the bundled server lacks ${dep}`);
}
for (const name of files.keys()) {
  if (/\.(so|pyd|dylib|pyc)$/.test(name)) problems.push(`compiled file in the bundle: ${name}`);
  if (/^extension\/(src|test|node_modules|scripts)\//.test(name) || name.endsWith('.ts') && !name.endsWith('.d.ts')) {
    problems.push(`should not ship: ${name}`);
  }
}
if (files.has('extension/package.json')) {
  const manifest = JSON.parse(read(zip, files.get('extension/package.json')).toString('utf8'));
  const main = `extension/${manifest.main.replace(/^\.\//, '')}`;
  if (!files.has(main)) problems.push(`main ${manifest.main} is not in the package`);
  if (manifest.version !== pkg.version) problems.push(`version ${manifest.version} != ${pkg.version}`);
}
if (files.has('extension/dist/extension.js')) {
  const bundle = read(zip, files.get('extension/dist/extension.js')).toString('utf8');
  if (!bundle.includes('require("vscode")')) problems.push('bundle does not load vscode as an external');
  if (bundle.length < 10_000) problems.push('bundle suspiciously small');
}
if (problems.length > 0) {
  console.error(`check-vsix: ${file}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const shown = [...files.keys()].filter((n) => !n.startsWith('extension/bundled/libs/'));
console.log(`check-vsix: ${file} ok (${files.size} files, ${files.size - shown.length} of them the bundled server: ${shown.join(', ')})`);

// The bundle must evaluate: load the packaged copy with a stand-in `vscode` module whose
// every member is an empty class (the language client extends several at load time).
{
  const { createRequire, Module } = await import('node:module');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'fuse-ls-vsix-'));
  const bundlePath = join(dir, 'extension.js');
  writeFileSync(bundlePath, read(zip, files.get('extension/dist/extension.js')));
  const stub = new Proxy({}, { get: (_t, name) => (name === '__esModule' ? false : class {}) });
  const originalLoad = Module._load;
  Module._load = function (request, ...rest) {
    return request === 'vscode' ? stub : originalLoad.call(this, request, ...rest);
  };
  try {
    const loaded = createRequire(import.meta.url)(bundlePath);
    if (typeof loaded.activate !== 'function' || typeof loaded.deactivate !== 'function') {
      console.error('check-vsix: the bundle does not export activate/deactivate');
      process.exit(1);
    }
  } finally {
    Module._load = originalLoad;
  }
  console.log('check-vsix: the bundle loads and exports activate/deactivate');
}
