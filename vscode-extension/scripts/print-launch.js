#!/usr/bin/env node
// Prints how the extension would start the server for a given settings.json-like file:
//   node scripts/print-launch.js settings.json [--python PATH] [--api-key-from-env VAR]
//                                [--untrusted] [--bundled LIBS]
// Output: {"command", "args", "initializationOptions", "envKeys", "apiKeyEnv"}.
// It runs the extension's own code (src/launch.ts + src/settings.ts, bundled by
// `npm run build` into dist/launch.js). The key's value is never printed: only the names
// of the variables the extension sets. `--api-key-from-env VAR` reads a key from VAR, so
// a key never appears on a command line either.
'use strict';
const fs = require('fs');
const path = require('path');

const bundle = path.join(__dirname, '..', 'dist', 'launch.js');
if (!fs.existsSync(bundle)) {
  console.error(`${bundle} is missing: run "npm run build" in vscode-extension first`);
  process.exit(2);
}
const { buildLaunch, apiKeyEnvName } = require(bundle);
const { readerFromJson } = require(bundle);

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const file = argv.find((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
const settings = file ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const read = readerFromJson(settings);

// Same rule as interpreter.ts when fuseLs.interpreter is set; the Python extension is not
// available outside VS Code, so --python stands in for it.
const configured = typeof settings['fuseLs.interpreter'] === 'string' ? settings['fuseLs.interpreter'].trim() : '';
const python = configured || option('--python') || 'python3';
const keyVar = option('--api-key-from-env');
const apiKey = keyVar ? process.env[keyVar] : undefined;

// --untrusted: what a window whose workspace is not trusted sends (default: trusted).
const workspaceTrusted = !argv.includes('--untrusted');
const bundledLibs = option('--bundled');
const launch = buildLaunch({ python, read, apiKey, baseEnv: {}, workspaceTrusted, bundledLibs });
process.stdout.write(
  JSON.stringify(
    {
      command: launch.command,
      args: launch.args,
      initializationOptions: launch.initializationOptions,
      envKeys: launch.envKeys,
      // Python's own variables (safe import path, bundled PYTHONPATH); never the key's.
      env: Object.fromEntries(launch.envKeys.filter((k) => k.startsWith('PYTHON') && k !== launch.keyEnv).map((k) => [k, launch.env[k]])),
      apiKeyEnv: apiKeyEnvName(read),
    },
    null,
    2,
  ) + '\n',
);
