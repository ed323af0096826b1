#!/usr/bin/env node
// Prints the ClientCapabilities that this extension's language client
// (vscode-languageclient, as locked in package-lock.json) sends in `initialize`, so the
// Python protocol test can start the server with exactly those instead of an old profile.
// VS Code itself is not needed: the client's feature classes fill the capabilities
// without calling into it, so a stand-in `vscode` module is enough.
'use strict';
const Module = require('module');

// Every member is a callable, constructible stand-in; `version` satisfies the client's
// engine check.
const objectHandler = {
  get(target, name) {
    if (name === '__esModule') return false;
    if (!(name in target)) target[name] = stand();
    return target[name];
  },
};
function stand() {
  return new Proxy(function () {}, {
    get(target, name) {
      if (name === 'prototype') return target.prototype;
      if (!(name in target)) target[name] = stand();
      return target[name];
    },
    construct: () => new Proxy({}, objectHandler),
    apply: () => new Proxy({}, objectHandler),
  });
}
const vscode = new Proxy({ version: '1.90.0' }, objectHandler);
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'vscode' ? vscode : load.call(this, request, ...rest);
};

const { LanguageClient } = require('vscode-languageclient/node');
const client = new LanguageClient('fuseLs', 'fuse-ls', { command: 'python3' }, { documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }] });
// What src/lsp.ts adds (from the built dist/launch.js, `npm run build`).
const path = require('path');
client.registerFeature(require(path.join(__dirname, '..', 'dist', 'launch.js')).ownProgressFeature);
const { version } = require('vscode-languageclient/package.json');
process.stdout.write(
  JSON.stringify({ client: `vscode-languageclient ${version}`, capabilities: client.computeClientCapabilities() }, null, 1) + '\n',
);
