// The real-VS-Code test: installs the freshly built .vsix into code-server (VS Code in
// the browser, from the npm registry), opens it in Debian's Chromium through
// playwright-core and uses the extension the way a user does, against the model
// emulator on loopback. The interpreter on PATH has no fuse-ls: the server that runs
// is the one inside the .vsix.
//
//   node e2e/run.mjs [path/to/fuse-ls-X.Y.Z.vsix]      (after e2e/install.sh)
//
// Every step leaves a screenshot in e2e/artifacts/ (also on failure). Every wait is on
// UI or emulator state, with a generous ceiling; there are no fixed sleeps.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const E2E = import.meta.dirname;
const EXT = resolve(E2E, '..');
const REPO = resolve(EXT, '..');
const ARTIFACTS = join(E2E, 'artifacts');
const require = createRequire(join(E2E, 'package.json'));
const { chromium } = require('playwright-core');

const TIMEOUT = 90_000; // ceiling of one wait; a 2-core CI box running code-server is slow
const pkg = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8'));
const vsix = resolve(process.argv[2] ?? join(EXT, `${pkg.name}-${pkg.version}.vsix`));
const node = readFileSync(join(E2E, '.tools', 'node-path'), 'utf8').trim();
const codeServer = join(E2E, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const harnessPython = process.env.FUSE_LS_E2E_HARNESS_PYTHON ?? join(REPO, '.venv', 'bin', 'python');
const browserPath = process.env.FUSE_LS_E2E_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

for (const [what, path] of [['the .vsix', vsix], ['code-server (run e2e/install.sh)', codeServer], ['node 24', node], ['the harness Python', harnessPython], ['chromium', browserPath]]) {
  if (!path || !existsSync(path)) {
    console.error(`e2e: ${what} not found${path ? `: ${path}` : ''}`);
    process.exit(2);
  }
}

rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'fuse-ls-e2e-'));
const children = [];
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (message) => console.log(`[e2e ${elapsed()}] ${message}`);

// --- the user's machine: a Python >= 3.11 WITHOUT fuse-ls -------------------------------

function userPython() {
  const candidates = [process.env.FUSE_LS_E2E_USER_PYTHON, '/usr/bin/python3', '/usr/local/bin/python3'].filter(Boolean);
  for (const python of candidates) {
    if (!existsSync(python)) continue;
    try {
      execFileSync(python, ['-c', 'import sys; assert sys.version_info >= (3, 11)'], { stdio: 'ignore', cwd: tmp });
    } catch {
      continue;
    }
    try {
      // From a neutral directory: in the repository, `-c` would import the checkout.
      execFileSync(python, ['-c', 'import fuse_ls'], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' }, cwd: tmp });
      console.error(`e2e: ${python} can import fuse_ls; the test needs a Python without it`);
      continue;
    } catch {
      return python;
    }
  }
  console.error('e2e: no Python >= 3.11 without fuse-ls found (set FUSE_LS_E2E_USER_PYTHON)');
  process.exit(2);
}

const bin = join(tmp, 'bin');
mkdirSync(bin);
const python = userPython();
symlinkSync(python, join(bin, 'python3'));
const userEnv = {
  HOME: join(tmp, 'home'),
  PATH: `${bin}:/usr/bin:/bin`,
  XDG_CONFIG_HOME: join(tmp, 'config'),
  XDG_DATA_HOME: join(tmp, 'data'),
  LANG: 'C.UTF-8',
};
mkdirSync(userEnv.HOME);

// --- the model emulator ------------------------------------------------------------------

const requests = new Map();
const requestListeners = new Set();
const scripted = new Map();
let emulator;
async function startEmulator() {
  const child = spawn(harnessPython, [join(E2E, 'emulator_host.py')], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  emulator = child;
  const lines = createInterface({ input: child.stdout });
  let resolveUrl;
  const url = new Promise((r) => (resolveUrl = r));
  lines.on('line', (line) => {
    const event = JSON.parse(line);
    if (event.listening) {
      resolveUrl(event.listening);
      return;
    }
    if (event.scripted !== undefined) {
      scripted.get(event.scripted)?.();
      return;
    }
    requests.set(event.request, event);
    for (const listener of requestListeners) listener();
  });
  return url;
}

let commands = 0;
/** Changes the pool's behaviour (emulator_host.py `rescript`); resolves once it is in force. */
function rescript(command) {
  const id = ++commands;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator did not take ${JSON.stringify(command)}`)), TIMEOUT);
    scripted.set(id, () => {
      clearTimeout(timer);
      scripted.delete(id);
      resolvePromise();
    });
    emulator.stdin.write(`${JSON.stringify({ id, ...command })}\n`);
  });
}

/** Resolves once `predicate([...requests])` holds; rejects after the ceiling. */
function untilRequests(predicate, what) {
  return new Promise((resolvePromise, reject) => {
    const check = () => {
      if (predicate([...requests.values()])) {
        requestListeners.delete(check);
        clearTimeout(timer);
        resolvePromise();
      }
    };
    const timer = setTimeout(() => {
      requestListeners.delete(check);
      reject(new Error(`timed out waiting for the emulator: ${what}; saw ${JSON.stringify([...requests.values()])}`));
    }, TIMEOUT);
    requestListeners.add(check);
    check();
  });
}

// --- code-server ---------------------------------------------------------------------------

const userData = join(tmp, 'user-data');
const extensions = join(tmp, 'extensions');
const workspace = join(tmp, 'workspace');

// Written before code-server first runs, or it writes a default (password) config there.
writeFileSync(join(tmp, 'code-server.yaml'), 'auth: none\ncert: false\n');

function codeServerArgs(...args) {
  return [codeServer, '--user-data-dir', userData, '--extensions-dir', extensions, '--config', join(tmp, 'code-server.yaml'), ...args];
}

async function startCodeServer() {
  const child = spawn(
    node,
    codeServerArgs('--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', workspace),
    // Never the repository as the working directory: `python -m fuse_ls` would find the
    // checkout there instead of the bundled server.
    { env: userEnv, cwd: userEnv.HOME, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const output = [];
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${output.join('')}`)), TIMEOUT);
    const onData = (chunk) => {
      output.push(chunk.toString());
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output.join(''));
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`code-server exited (${code}):\n${output.join('')}`)));
  });
}

// --- the browser side -----------------------------------------------------------------------

let page;
let shot = 0;
async function screenshot(name) {
  shot += 1;
  const file = join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

const steps = [];
async function step(name, body) {
  log(`step: ${name}`);
  try {
    await body();
  } catch (error) {
    await screenshot(`FAILED-${name}`).catch(() => undefined);
    throw new Error(`step "${name}" failed: ${error.stack ?? error}`);
  }
  steps.push({ name, screenshot: await screenshot(name), at: elapsed() });
}

const visible = (locator) => locator.first().waitFor({ state: 'visible', timeout: TIMEOUT });
const toast = (text) => page.locator('.notifications-toasts .notification-toast', { hasText: text });

async function palette(command) {
  const input = page.locator('.quick-input-widget input');
  // Focus arriving late elsewhere (a panel just shown) can close the palette as it opens.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    await visible(input);
    try {
      await input.fill(`>${command}`, { timeout: 5000 });
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: command }).first();
  await visible(row);
  await row.click();
}

async function goToLine(line) {
  await page.keyboard.press('Control+g');
  const input = page.locator('.quick-input-widget input');
  await visible(input);
  await input.fill(`:${line}`);
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: TIMEOUT });
}

/** Selects whole lines first..last (1-based, inclusive) in the active editor. */
async function selectLines(first, last) {
  await goToLine(first);
  await page.keyboard.press('Home');
  await page.keyboard.press('Home'); // the first Home may stop at the indentation
  for (let i = first; i <= last; i++) await page.keyboard.press('Shift+ArrowDown');
}

async function openFile(name) {
  await page.keyboard.press('Control+p');
  const input = page.locator('.quick-input-widget input');
  await visible(input);
  await input.fill(name);
  await visible(page.locator('.quick-input-widget .monaco-list-row', { hasText: name }));
  await page.keyboard.press('Enter');
  await visible(page.locator('.tab.active', { hasText: name }));
}

/** The editor tab of `name` (not a fix's diff, not an explanation) in front. */
async function focusFile(name) {
  await page.locator('.tab', { hasText: name }).filter({ hasNotText: /↔|lines/ }).first().click();
  await visible(page.locator('.tab.active', { hasText: name }));
}

/**
 * Clicks `button` of the notification saying `text`: on its toast, or in the notification
 * center once the toast is gone (an Info toast with buttons hides after 10 s; its question
 * is still open there).
 */
async function answerNotification(text, button) {
  const inCenter = !(await toast(text).first().isVisible());
  if (inCenter) await palette('Notifications: Show Notifications');
  const item = page.locator('.notification-list-item', { hasText: text }).filter({ visible: true }).first();
  await visible(item);
  await item.locator('.monaco-button', { hasText: new RegExp(`^${button}$`) }).click();
  if (inCenter) {
    // While the center is open, new notifications show there instead of as toasts.
    await page.keyboard.press('Escape');
    await untilCount(page.locator('.notifications-center.visible'), (n) => n === 0, 'the notification center closed');
  }
}

/** The Problems panel's rows: each file's name and the texts of its problems. */
async function problemsByFile() {
  const rows = await page
    .locator('.markers-panel .monaco-list-row')
    .evaluateAll((els) => els.map((e) => ({ index: Number(e.getAttribute('data-index')), level: e.getAttribute('aria-level'), text: e.innerText })));
  const byFile = new Map();
  let current;
  // The list renders only what is in view, in any DOM order: by index.
  for (const row of rows.sort((a, b) => a.index - b.index)) {
    if (row.level === '1') {
      current = /^\S+/.exec(row.text.trim())?.[0] ?? row.text;
      byFile.set(current, []);
    } else if (current !== undefined) {
      byFile.get(current).push(row.text);
    }
  }
  return byFile;
}

/** Resolves with the file's text once `predicate(text)` holds. */
async function untilFile(path, predicate, what) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const text = readFileSync(path, 'utf8');
    if (predicate(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}: ${what}\n${text}`);
    await page.waitForFunction(() => true, null, { timeout: 1000, polling: 'raf' }); // next frame
  }
}

// Monaco renders spaces as U+00A0: match text in editors with \s, not ' '.

/** The active editor's text (what is rendered: the test files are shorter than a screen). */
async function editorText() {
  const text = await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText();
  return text.replace(/\u00a0/g, ' ');
}

async function untilEditorText(predicate, what) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const text = await editorText();
    if (predicate(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the editor: ${what}\n${text}`);
    await page.waitForFunction(() => true, null, { timeout: 1000, polling: 'raf' }); // next frame
  }
}

/** Resolves once `predicate(locator.count())` holds. */
async function untilCount(locator, predicate, what) {
  const deadline = Date.now() + TIMEOUT;
  while (!predicate(await locator.count())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await page.waitForFunction(() => true, null, { timeout: 1000, polling: 'raf' }); // next frame
  }
}

/** Text of every frame (a Markdown preview is a webview: nested iframes). */
async function untilFrameText(predicate, what) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    for (const frame of page.frames()) {
      const text = await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '');
      if (predicate(text)) return text;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for a webview: ${what}`);
    await page.waitForEvent('framenavigated', { timeout: 2000 }).catch(() => undefined);
  }
}

// --- the scenarios --------------------------------------------------------------------------

// Two lookups whose fix (the pool's, scripted in the two-fixes step) adds two lines each:
// the first one applied moves the second.
const STOCK = [
  '"""Stock levels for the warehouse."""',
  '',
  'import sqlite3',
  '',
  '',
  'def in_stock(db: sqlite3.Connection, sku: str) -> int:',
  '    row = db.execute("SELECT count FROM stock WHERE sku = ?", (sku,)).fetchone()',
  '    return int(row[0])',
  '',
  '',
  'def reserved(db: sqlite3.Connection, sku: str) -> int:',
  '    row = db.execute("SELECT count FROM reservations WHERE sku = ?", (sku,)).fetchone()',
  '    return int(row[0])',
  '',
].join('\n');
const NONE_CHECK = { find: '    return int(row[0])', replace: '    if row is None:\n        return 0\n    return int(row[0])', explanation: 'fetchone() returns None when no row matches.' };

// The change-review step's repository: billing.py is changed first, shipping.py later.
const BILLING = 'def invoice_total(lines: list[dict[str, float]]) -> float:\n    return sum(line["price"] * line["qty"] for line in lines)\n';
const BILLING_CHANGED = `${BILLING}\n\ndef parse_discount(raw: str) -> float:\n    return float(eval(raw))\n`;
const SHIPPING = 'def label(order_id: int) -> str:\n    return f"order-{order_id}"\n';
const SHIPPING_CHANGED = `${SHIPPING}\n\ndef weight(raw: str) -> float:\n    try:\n        return float(raw)\n    except:\n        return 0.0\n`;

async function main() {
  const baseUrl = await startEmulator();
  log(`emulator at ${baseUrl}`);

  mkdirSync(workspace);
  // The demo file (28 lines) and a second bare except for the fused fix, so that the
  // verified fix (line 27) and the fused fix (lines 31-35) each have their own.
  const demo = readFileSync(join(REPO, 'fuse_ls', 'emulator', 'demo', 'orders.py'), 'utf8');
  if (demo.split('\n').length !== 29) throw new Error('the demo orders.py is no longer 28 lines: update the e2e line numbers');
  writeFileSync(
    join(workspace, 'orders.py'),
    demo +
      '\n\ndef order_count(db: sqlite3.Connection) -> int:\n    try:\n' +
      '        return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])\n' +
      '    except:\n        return 0\n',
  );
  writeFileSync(join(workspace, 'stock.py'), STOCK);
  mkdirSync(join(userData, 'User'), { recursive: true });
  const dataDir = join(tmp, 'fuse-ls-data');
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'telemetry.telemetryLevel': 'off',
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'security.workspace.trust.enabled': false,
        'editor.minimap.enabled': false,
        'fuseLs.provider.baseUrl': baseUrl,
        'fuseLs.pool': ['anthropic/claude-sonnet-4.5', 'openai/gpt-5', 'google/gemini-2.5-pro'],
        'fuseLs.judge': 'openai/gpt-5-mini',
        'fuseLs.budget.maxUsdPerRequest': null,
        'fuseLs.budget.maxUsdPerDay': null,
        'fuseLs.retries.maxAttempts': 1,
        'fuseLs.telemetry.dataDir': dataDir,
      },
      null,
      2,
    ),
  );

  // code-server is a remote window: machine-overridable settings (verify.commands) come
  // from the machine's settings, as on a remote host, not from the User file above.
  mkdirSync(join(userData, 'Machine'), { recursive: true });
  writeFileSync(
    join(userData, 'Machine', 'settings.json'),
    JSON.stringify({
      // The project's check for a verified fix: it runs in an isolated copy.
      'fuseLs.verify.commands': [`${python} -c "import ast, pathlib; ast.parse(pathlib.Path('orders.py').read_text())"`],
    }),
  );

  log(`installing ${vsix} (user Python: ${python}, no fuse-ls)`);
  execFileSync(node, codeServerArgs('--install-extension', vsix), { env: userEnv, cwd: userEnv.HOME, stdio: 'inherit' });
  const installed = readdirSync(extensions).filter((n) => n.startsWith('fuse-ls.fuse-ls-'));
  if (installed.length !== 1) throw new Error(`the extension is not installed: ${readdirSync(extensions)}`);

  const url = await startCodeServer();
  log(`code-server at ${url}`);
  const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (error) => consoleErrors.push(String(error)));

  try {
    await step('workbench-and-bundled-server-running', async () => {
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
      await visible(page.locator('.monaco-workbench .part.statusbar'));
      // The status item shows the session cost once the bundled server runs.
      await visible(page.locator('.statusbar-item', { hasText: /fuse-ls \$0\.00/ }));
    });

    await step('open-file-select-lines', async () => {
      await page.keyboard.press('Control+p');
      const input = page.locator('.quick-input-widget input');
      await visible(input);
      await input.fill('orders.py');
      await visible(page.locator('.quick-input-widget .monaco-list-row', { hasText: 'orders.py' }));
      await page.keyboard.press('Enter');
      await visible(page.locator('.tab.active', { hasText: 'orders.py' }));
      await untilEditorText((t) => t.includes('def parse_filters'), 'orders.py open');
      await selectLines(6, 28);
    });

    await step('cancel-from-notification-stops-the-models', async () => {
      await palette('fuse-ls: Fused review of selection');
      const progress = toast('fuse-ls: Fused review');
      await visible(progress);
      await untilRequests((rs) => rs.filter((r) => r.schema === 'review_findings' && r.status === 200).length >= 3, 'three review calls streaming');
      await screenshot('progress-notification');
      // One progress display: no spinner in the status bar next to the notification (the
      // server's work-done progress is not asked for; the fuse-ls item has no spinner).
      const spinners = await page.locator('.part.statusbar .codicon-modifier-spin').count();
      if (spinners > 0) throw new Error(`${spinners} spinning status bar item(s) next to the progress notification`);
      await progress.first().locator('.monaco-button', { hasText: 'Cancel' }).click();
      await untilRequests(
        (rs) => rs.filter((r) => r.schema === 'review_findings').length >= 3 && rs.filter((r) => r.schema === 'review_findings').every((r) => r.disconnected && r.ended),
        'every model call cut off by the cancel',
      );
      await progress.first().waitFor({ state: 'hidden', timeout: TIMEOUT });
      await visible(page.locator('.statusbar-item', { hasText: /cancelled/ }));
    });

    await step('every-model-failed-is-readable-with-show-logs', async () => {
      await selectLines(6, 28);
      await palette('fuse-ls: Fused review of selection');
      const error = toast(/Every model in the pool failed \(claude-sonnet-4\.5, gpt-5, gemini-2\.5-pro\): the reasons are in the log/);
      await visible(error);
      await screenshot('every-model-failed-toast');
      await error.first().locator('.monaco-button', { hasText: 'Show Logs' }).click();
      await visible(page.locator('.part.panel .monaco-editor .view-lines', { hasText: /-\sopenai\/gpt-5:\s.*401/ }));
      await error.first().waitFor({ state: 'hidden', timeout: TIMEOUT });
    });

    await step('fused-review-problems-with-votes-judge-failed-is-a-warning', async () => {
      await page.locator('.tab', { hasText: 'orders.py' }).first().click();
      await selectLines(6, 28);
      await palette('fuse-ls: Fused review of selection');
      await visible(toast(/Fused review is degraded: judge failed .*503/));
      const found = toast(/fused review found \d+ issues?/);
      await visible(found);
      const summary = await found.first().innerText();
      await page.keyboard.press('Control+Shift+m');
      const rows = page.locator('.markers-panel .monaco-list-row', { hasText: /\d\/3 models/ });
      await visible(rows);
      const texts = await rows.allInnerTexts();
      if (!texts.some((t) => /eval/.test(t) && /3\/3 models/.test(t))) throw new Error(`no 3/3 eval finding in Problems: ${texts.join(' | ')}`);
      // Identical findings are shown once: the badge counts what the list shows.
      const messages = texts.map((t) => t.split('\n')[0]);
      if (new Set(messages).size !== messages.length) throw new Error(`a finding is listed twice: ${texts.join(' | ')}`);
      // The summary's count and the panel's agree, hints (not listed there) accounted for.
      const total = Number(/found (\d+) issue/.exec(summary)[1]);
      const hints = Number(/(\d+) (?:is a hint|are hints)/.exec(summary)?.[1] ?? 0);
      if (texts.length !== total - hints) throw new Error(`"${summary}" but Problems lists ${texts.length}: ${texts.join(' | ')}`);
    });

    await step('quick-fix-applies', async () => {
      await goToLine(8);
      await page.keyboard.press('End');
      await page.keyboard.press('Control+.');
      const fix = page.locator('.action-widget .monaco-list-row', { hasText: /fused fix/i });
      await visible(fix);
      await screenshot('quick-fix-menu');
      await fix.first().click();
      await untilEditorText((t) => t.includes('ast.literal_eval(raw)'), 'the quick fix replaced eval');
    });

    await step('explain-opens-a-readable-preview', async () => {
      await selectLines(12, 15);
      await palette('fuse-ls: Explain with consensus');
      const tab = page.locator('.tab', { hasText: /orders\.py.*lines 12-15/ });
      await visible(tab);
      await untilFrameText((t) => /lines 12-15/.test(t) && /Fused \(merge\) from 3\/3 models/.test(t), 'the explanation rendered');
    });

    await step('verify-fix-runs-the-checks-then-applies', async () => {
      await page.locator('.tab', { hasText: 'orders.py' }).filter({ hasNotText: 'lines' }).first().click();
      await goToLine(27);
      const before = readFileSync(join(workspace, 'orders.py'), 'utf8');
      await palette("fuse-ls: Verify fix (run the project's checks, then apply)");
      const ask = toast(/Apply the fused fix to orders\.py:27\? \(checks passed/);
      await visible(ask);
      await screenshot('verify-fix-checks-passed');
      // The checks ran in a copy: the file on disk is untouched until the user applies.
      if (readFileSync(join(workspace, 'orders.py'), 'utf8') !== before) throw new Error('the workspace changed before Apply');
      await ask.first().locator('.monaco-button', { hasText: /^Apply$/ }).click();
      await page.locator('.tab', { hasText: 'orders.py' }).filter({ hasNotText: /↔|lines/ }).first().click();
      // The first bare except now names what it catches; the second is left for the fused fix.
      await untilEditorText((t) => /except\s*[(A-Za-z][^:\n]*:\s+return\s+0\.0/.test(t) && /except:\s+return\s+0\b/.test(t), 'the verified fix replaced the first bare except');
    });

    await step('two-fixes-in-one-file-each-its-own-notification', async () => {
      await page.locator('.tab', { hasText: 'orders.py' }).filter({ hasNotText: /↔|lines/ }).first().click();
      // The first fix's models never answer (emulator_host.py): its notification stays up.
      await selectLines(31, 35);
      await palette('fuse-ls: Fused fix');
      const progress = toast(/fuse-ls: Fused fix/);
      await visible(progress);
      const fixCalls = (rs) => rs.filter((r) => r.schema === 'fix_result');
      await untilRequests((rs) => fixCalls(rs).filter((r) => r.status === 200).length >= 3, 'three fix calls streaming');
      await selectLines(12, 15);
      await palette('fuse-ls: Fused fix');
      const ask = toast(/Apply the fused fix to orders\.py:12\?/);
      await visible(ask);
      // The second fix arrived and its notification closed; the first request's did not.
      await untilCount(progress, (n) => n <= 1, 'the second notification closed');
      if ((await progress.count()) !== 1) throw new Error('the first fix\'s notification closed with the second fix');
      await screenshot('second-fix-asks-first-still-running');
      await ask.first().locator('.monaco-button', { hasText: /^Discard$/ }).click();
      // Its Cancel stops that request alone ($/cancelRequest): its three model calls end.
      await progress.first().locator('.monaco-button', { hasText: 'Cancel' }).click();
      await untilRequests((rs) => fixCalls(rs).slice(0, 3).every((r) => r.disconnected && r.ended), 'the first fix\'s model calls cut off');
      await progress.first().waitFor({ state: 'hidden', timeout: TIMEOUT });
      if (readFileSync(join(workspace, 'orders.py'), 'utf8').includes('customer = ?')) throw new Error('the discarded fix was applied');
    });

    await step('fused-fix-applies-on-one-click', async () => {
      await page.locator('.tab', { hasText: 'orders.py' }).filter({ hasNotText: 'lines' }).first().click();
      await selectLines(31, 35);
      const before = await editorText();
      await palette('fuse-ls: Fused fix');
      const ask = toast('Apply the fused fix');
      await visible(ask);
      await screenshot('fix-diff-and-question');
      await ask.first().locator('.monaco-button', { hasText: /^Apply$/ }).click();
      await visible(toast('fused fix applied').or(page.locator('.statusbar-item', { hasText: 'fused fix applied' })));
      await page.locator('.tab', { hasText: 'orders.py' }).filter({ hasNotText: /↔|lines/ }).first().click();
      await untilEditorText((t) => t !== before && !t.includes('except:'), 'the fused fix replaced the bare except');
    });

    await step('two-fixes-up-at-once-both-apply-the-second-moved-by-the-first', async () => {
      await rescript({ fix: NONE_CHECK });
      await openFile('stock.py');
      await untilEditorText((t) => t.includes('def reserved'), 'stock.py open');
      await selectLines(6, 8);
      await palette('fuse-ls: Fused fix');
      const first = /Apply the fused fix to stock\.py:6\?/;
      await visible(toast(first));
      // The second fix is asked for while the first one's question is still open.
      await focusFile('stock.py');
      await selectLines(11, 13);
      await palette('fuse-ls: Fused fix');
      const second = /Apply the fused fix to stock\.py:11\?/;
      await visible(toast(second));
      await screenshot('two-fix-questions-open');
      const path = join(workspace, 'stock.py');
      await answerNotification(first, 'Apply');
      await focusFile('stock.py');
      await untilEditorText((t) => (t.match(/if\s+row\s+is\s+None:/g) ?? []).length === 1, 'the first fix applied');
      // Two lines longer above it: the second fix applies where its own lines went.
      await answerNotification(second, 'Apply');
      await focusFile('stock.py');
      await untilEditorText((t) => (t.match(/if\s+row\s+is\s+None:/g) ?? []).length === 2, 'the second fix applied');
      await page.keyboard.press('Control+s');
      const fixed = STOCK.replaceAll('    return int(row[0])', NONE_CHECK.replace);
      await untilFile(path, (t) => t === fixed, 'both fixes, each on its own function, saved');
      if ((await toast(/not applied/).count()) > 0) throw new Error('a fix was reported as not applied');
      await rescript({});
    });

    await step('change-review-cancel-keeps-the-files-already-reviewed', async () => {
      // The workspace becomes a git repository of its own two files (the others stay out).
      const git = (...args) => execFileSync('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.invalid', ...args], { cwd: workspace, stdio: 'ignore' });
      writeFileSync(join(workspace, '.gitignore'), '/*\n!/.gitignore\n!/billing.py\n!/shipping.py\n');
      writeFileSync(join(workspace, 'billing.py'), BILLING);
      writeFileSync(join(workspace, 'shipping.py'), SHIPPING);
      git('init', '-q');
      git('add', '-A');
      git('commit', '-q', '-m', 'base');
      const reviewChanges = async () => {
        await palette('fuse-ls: Fused review of changes');
        const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Uncommitted changes' });
        await visible(row);
        await row.first().click();
      };
      // billing.py's change is reviewed (and its unit cached).
      writeFileSync(join(workspace, 'billing.py'), BILLING_CHANGED);
      await reviewChanges();
      const found = toast(/fused review of changes found \d+ issues? in 1 file/);
      await visible(found);
      await found.first().locator('.monaco-button', { hasText: 'Show Problems' }).click();
      await visible(page.locator('.markers-panel .monaco-list-row', { hasText: 'billing.py' }));
      await focusFile('stock.py');
      // Then shipping.py changes too, and its models never answer: the review is cancelled.
      writeFileSync(join(workspace, 'shipping.py'), SHIPPING_CHANGED);
      await rescript({ hang: ['review_findings'] });
      const before = requests.size;
      const mine = (rs) => rs.filter((r) => r.request >= before && r.schema === 'review_findings');
      await reviewChanges();
      const progress = toast('fuse-ls: Fused review of changes');
      await visible(progress);
      await untilRequests((rs) => mine(rs).filter((r) => r.status === 200).length >= 3, "shipping.py's review calls streaming");
      await screenshot('change-review-running');
      await progress.first().locator('.monaco-button', { hasText: 'Cancel' }).click();
      await untilRequests((rs) => mine(rs).every((r) => r.disconnected && r.ended), "shipping.py's calls cut off by the cancel");
      await progress.first().waitFor({ state: 'hidden', timeout: TIMEOUT });
      await visible(page.locator('.statusbar-item', { hasText: /Fused review of changes: cancelled/ }));
      // billing.py, reviewed before the cancel, keeps its findings; shipping.py has none.
      const problems = await problemsByFile();
      if (!(problems.get('billing.py') ?? []).some((t) => /eval/.test(t))) throw new Error(`billing.py's eval finding is gone: ${JSON.stringify([...problems])}`);
      if (problems.has('shipping.py')) throw new Error(`the cancelled review reported on shipping.py: ${JSON.stringify([...problems])}`);
      await rescript({});
    });

    await step('open-settings-lands-on-the-interpreter-setting', async () => {
      await palette('fuse-ls: Choose the Python interpreter');
      // code-server is a remote window: the setting shows on the Remote tab, which the
      // command opens; on the User tab a machine-overridable setting would not be listed.
      await visible(page.locator('.settings-editor .setting-item-contents', { hasText: /Python \(3\.11 or newer\) that runs the fuse-ls server/ }));
    });

    if (consoleErrors.length > 0) log(`page errors (not failures): ${consoleErrors.slice(0, 5).join(' | ')}`);
  } finally {
    await browser.close();
  }
}

let failed = false;
try {
  await main();
  log(`passed: ${steps.length} steps; screenshots in ${ARTIFACTS}`);
} catch (error) {
  failed = true;
  console.error(`[e2e ${elapsed()}] FAILED: ${error.stack ?? error}`);
  const logs = join(userData, 'logs');
  if (existsSync(logs)) {
    const found = execFileSync('find', [logs, '-name', '*fuse-ls*'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    for (const file of found) console.error(`--- ${file}\n${readFileSync(file, 'utf8').slice(-6000)}`);
  }
} finally {
  for (const child of children) {
    child.stdin?.end();
    child.kill('SIGTERM');
  }
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

