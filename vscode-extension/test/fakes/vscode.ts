/**
 * A small fake of the `vscode` API surface the extension uses (vitest aliases `vscode`
 * to this file). It records what the extension did (`fake.*`) and lets tests script the
 * user's answers (message buttons, input boxes, quick picks). Settings defaults come from
 * the real package.json, so the tests see the same defaults VS Code would.
 */
import { readFileSync } from 'fs';
import * as path from 'path';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(value: T): void {
    for (const l of [...this.listeners]) l(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.emitter.fire();
    }
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', p);
  }
  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }
  static parse(value: string): Uri {
    const m = /^([a-z][\w+.-]*):(?:\/\/)?(.*)$/i.exec(value);
    if (!m) return new Uri('file', value);
    return new Uri(m[1], m[1] === 'file' ? decodeURIComponent(m[2]) : m[2]);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return this.scheme === 'file' ? `file://${this.path}` : `${this.scheme}:${this.path}`;
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c!, d!) : (b as Position);
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class Selection extends Range {
  get active(): Position {
    return this.end;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}
export enum QuickPickItemKind {
  Separator = -1,
  Default = 0,
}
export enum TaskScope {
  Global = 1,
  Workspace = 2,
}
export enum TaskRevealKind {
  Always = 1,
  Silent = 2,
  Never = 3,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

export class ProcessExecution {
  constructor(
    readonly process: string,
    readonly args: string[],
  ) {}
}

export class Task {
  presentationOptions: unknown = {};
  constructor(
    readonly definition: unknown,
    readonly scope: unknown,
    readonly name: string,
    readonly source: string,
    readonly execution: ProcessExecution,
  ) {}
}

// --- recording state -------------------------------------------------------------

export interface MessageRecord {
  kind: 'error' | 'warning' | 'info';
  text: string;
  items: string[];
}

export interface ProgressRecord {
  options: { location: ProgressLocation; title?: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancel: () => void;
  done: boolean;
}

export class FakeStatusBarItem {
  text = '';
  tooltip: unknown = '';
  command: unknown;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.visible = false;
  }
}

export class FakeOutputChannel {
  text = '';
  shown = false;
  constructor(readonly name: string) {}
  append(value: string): void {
    this.text += value;
  }
  appendLine(value: string): void {
    this.text += `${value}\n`;
  }
  replace(value: string): void {
    this.text = value;
  }
  clear(): void {
    this.text = '';
  }
  show(): void {
    this.shown = true;
  }
  hide(): void {
    this.shown = false;
  }
  dispose(): void {}
}

interface FakeDocument {
  uri: Uri;
  languageId: string;
  getText(): string;
}

/** An open text document whose text edits change (workspace.applyEdit). */
export class FakeTextDocument implements FakeDocument {
  languageId = 'python';
  version = 1;
  constructor(
    readonly uri: Uri,
    public text: string,
  ) {}
  getText(range?: Range): string {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }
  offsetAt(p: Position): number {
    const lines = this.text.split('\n');
    let offset = 0;
    for (let i = 0; i < p.line && i < lines.length; i++) offset += lines[i].length + 1;
    return offset + p.character;
  }
  positionAt(offset: number): Position {
    const before = this.text.slice(0, offset).split('\n');
    return new Position(before.length - 1, before[before.length - 1].length);
  }
  get lineCount(): number {
    return this.text.split('\n').length;
  }
  lineAt(line: number): { text: string } {
    return { text: this.text.split('\n')[line] ?? '' };
  }
  /** The user types: the whole text is replaced, the version moves on. */
  edit(text: string): void {
    this.replace(new Range(new Position(0, 0), this.positionAt(this.text.length)), text);
  }
  /** One edit, reported to onDidChangeTextDocument listeners as VS Code does. */
  replace(range: Range, text: string): void {
    this.text = this.text.slice(0, this.offsetAt(range.start)) + text + this.text.slice(this.offsetAt(range.end));
    this.version += 1;
    fake.documentChangeEmitter.fire({ document: this, contentChanges: [{ range, text }] });
  }
}

export class WorkspaceEdit {
  readonly replaces: { uri: Uri; range: Range; newText: string }[] = [];
  replace(uri: Uri, range: Range, newText: string): void {
    this.replaces.push({ uri, range, newText });
  }
}

export class TabInputTextDiff {
  constructor(
    readonly original: Uri,
    readonly modified: Uri,
  ) {}
}

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
};

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function freshState() {
  return {
    /** Values the user set, by full key (`fuseLs.pool`). */
    settings: {
      global: {} as Record<string, unknown>,
      workspace: {} as Record<string, unknown>,
    },
    commands: new Map<string, (...args: unknown[]) => unknown>(),
    executed: [] as { command: string; args: unknown[] }[],
    messages: [] as MessageRecord[],
    /** Chooses the button the "user" clicks; default: dismiss. */
    answerMessage: (_m: MessageRecord): string | undefined => undefined,
    inputBoxes: [] as Record<string, unknown>[],
    inputAnswers: [] as (string | undefined)[],
    quickPicks: [] as { items: { label: string }[]; options: unknown }[],
    pickAnswer: (_items: { label: string }[]): { label: string } | undefined => undefined,
    progress: [] as ProgressRecord[],
    statusMessages: [] as string[],
    statusItems: [] as FakeStatusBarItem[],
    outputChannels: [] as FakeOutputChannel[],
    tasks: [] as Task[],
    taskExitCode: 0 as number | undefined,
    statFails: false,
    openedDocuments: [] as { language?: string; content?: string }[],
    extensions: new Map<string, unknown>(),
    activeTextEditor: undefined as
      | { document: FakeDocument; selection: Selection }
      | undefined,
    workspaceFolders: undefined as { uri: Uri; name: string; index: number }[] | undefined,
    documents: [] as FakeTextDocument[],
    contentProviders: new Map<string, { provideTextDocumentContent(uri: Uri): string }>(),
    appliedEdits: [] as WorkspaceEdit[],
    applyEditResult: true,
    tabs: [] as { input: unknown }[],
    closedTabs: [] as { input: unknown }[],
    shownDocuments: [] as Uri[],
    shownSelections: [] as Range[],
    /** vscode.env.remoteName: set in SSH/WSL/container/code-server windows. */
    remoteName: undefined as string | undefined,
    isTrusted: true,
    /** vscode.languages.getDiagnostics, by uri string. */
    diagnostics: new Map<string, unknown[]>(),
  };
}

export const fake = {
  ...freshState(),
  configEmitter: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  taskEndEmitter: new EventEmitter<{ execution: unknown; exitCode: number | undefined }>(),
  documentChangeEmitter: new EventEmitter<{ document: FakeTextDocument; contentChanges: { range: Range; text: string }[] }>(),
  reset(): void {
    Object.assign(fake, freshState());
    fake.configEmitter = new EventEmitter();
    fake.taskEndEmitter = new EventEmitter();
    fake.documentChangeEmitter = new EventEmitter();
  },
  /** Everything written to every output channel. */
  get output(): string {
    return fake.outputChannels.map((c) => c.text).join('');
  },
  setEditor(uri: string, text: string, selection: [number, number, number, number]): void {
    const u = Uri.parse(uri);
    fake.activeTextEditor = {
      document: { uri: u, languageId: 'python', getText: () => text },
      selection: new Selection(new Position(selection[0], selection[1]), new Position(selection[2], selection[3])),
    };
  },
  /** Simulates the user editing settings.json. */
  setSetting(key: string, value: unknown, target: 'global' | 'workspace' = 'global'): void {
    if (value === undefined) delete fake.settings[target][key];
    else fake.settings[target][key] = value;
    fake.configEmitter.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(`${s}.`) || s.startsWith(`${key}.`) });
  },
};

function defaultOf(key: string): unknown {
  return clone(manifest.contributes.configuration.properties[key]?.default);
}

class FakeConfiguration {
  constructor(private readonly section: string) {}
  private full(key: string): string {
    return this.section ? `${this.section}.${key}` : key;
  }
  get<T>(key: string, fallback?: T): T | undefined {
    const k = this.full(key);
    for (const scope of [fake.settings.workspace, fake.settings.global]) {
      if (k in scope) return clone(scope[k]) as T;
    }
    const d = defaultOf(k);
    return (d === undefined ? fallback : d) as T | undefined;
  }
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  inspect<T>(key: string) {
    const k = this.full(key);
    return {
      key: k,
      defaultValue: defaultOf(k) as T,
      globalValue: clone(fake.settings.global[k]) as T | undefined,
      workspaceValue: clone(fake.settings.workspace[k]) as T | undefined,
      workspaceFolderValue: undefined as T | undefined,
    };
  }
  update(key: string, value: unknown, target?: ConfigurationTarget | boolean): Promise<void> {
    const where = target === ConfigurationTarget.Workspace || target === false ? 'workspace' : 'global';
    fake.setSetting(this.full(key), clone(value), where);
    return Promise.resolve();
  }
}

export const env = {
  get remoteName() {
    return fake.remoteName;
  },
};

export const workspace = {
  get isTrusted() {
    return fake.isTrusted;
  },
  getConfiguration: (section?: string) => new FakeConfiguration(section ?? ''),
  onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(section: string): boolean }>) => fake.configEmitter.event(l),
  get workspaceFolders() {
    return fake.workspaceFolders;
  },
  fs: {
    stat: (uri: Uri) => (fake.statFails ? Promise.reject(new Error(`ENOENT ${uri.toString()}`)) : Promise.resolve({ type: 1, size: 1 })),
  },
  openTextDocument: (options: { language?: string; content?: string } | Uri) => {
    if (options instanceof Uri) {
      const open = fake.documents.find((d) => d.uri.toString() === options.toString());
      return open ? Promise.resolve(open) : Promise.reject(new Error(`no such document ${options.toString()}`));
    }
    fake.openedDocuments.push(options);
    return Promise.resolve({ uri: Uri.parse(`untitled:Untitled-${fake.openedDocuments.length}`), languageId: options.language });
  },
  get textDocuments() {
    return fake.documents;
  },
  onDidCloseTextDocument: (_l: Listener<FakeTextDocument>) => new Disposable(),
  onDidChangeTextDocument: (l: Listener<{ document: FakeTextDocument; contentChanges: { range: Range; text: string }[] }>) => fake.documentChangeEmitter.event(l),
  registerTextDocumentContentProvider: (scheme: string, provider: { provideTextDocumentContent(uri: Uri): string }) => {
    fake.contentProviders.set(scheme, provider);
    return new Disposable(() => fake.contentProviders.delete(scheme));
  },
  applyEdit: (edit: WorkspaceEdit) => {
    fake.appliedEdits.push(edit);
    if (!fake.applyEditResult) return Promise.resolve(false);
    for (const r of [...edit.replaces].reverse()) {
      const doc = fake.documents.find((d) => d.uri.toString() === r.uri.toString());
      if (!doc) return Promise.resolve(false);
      doc.replace(r.range, r.newText);
    }
    return Promise.resolve(true);
  },
};

function message(kind: MessageRecord['kind']) {
  return (text: string, ...items: unknown[]): Promise<string | undefined> => {
    const record = { kind, text, items: items.filter((i): i is string => typeof i === 'string') };
    fake.messages.push(record);
    return Promise.resolve(fake.answerMessage(record));
  };
}

export const window = {
  tabGroups: {
    get all() {
      return [{ tabs: fake.tabs }];
    },
    close: (tabs: { input: unknown }[]) => {
      fake.closedTabs.push(...tabs);
      fake.tabs = fake.tabs.filter((t) => !tabs.includes(t));
      return Promise.resolve(true);
    },
  },
  showTextDocument: (document: { uri: Uri }, options?: { selection?: Range }) => {
    fake.shownDocuments.push(document.uri);
    if (options?.selection) fake.shownSelections.push(options.selection);
    return Promise.resolve({ document, selection: options?.selection });
  },
  createOutputChannel: (name: string) => {
    const channel = new FakeOutputChannel(name);
    fake.outputChannels.push(channel);
    return channel;
  },
  createStatusBarItem: (id: string, alignment: StatusBarAlignment, priority: number) => {
    const item = new FakeStatusBarItem(id, alignment, priority);
    fake.statusItems.push(item);
    return item;
  },
  showErrorMessage: message('error'),
  showWarningMessage: message('warning'),
  showInformationMessage: message('info'),
  showInputBox: (options: Record<string, unknown>) => {
    fake.inputBoxes.push(options);
    return Promise.resolve(fake.inputAnswers.shift());
  },
  showQuickPick: (items: { label: string }[], options: unknown) => {
    fake.quickPicks.push({ items, options });
    return Promise.resolve(fake.pickAnswer(items));
  },
  setStatusBarMessage: (text: string) => {
    fake.statusMessages.push(text);
    return new Disposable();
  },
  withProgress: async <R>(
    options: ProgressRecord['options'],
    task: (progress: { report(v: { message?: string }): void }, token: CancellationTokenSource['token']) => Promise<R>,
  ): Promise<R> => {
    const source = new CancellationTokenSource();
    const record: ProgressRecord = { options, reports: [], cancel: () => source.cancel(), done: false };
    fake.progress.push(record);
    try {
      return await task({ report: (v) => record.reports.push(v) }, source.token);
    } finally {
      record.done = true;
    }
  },
  get activeTextEditor() {
    return fake.activeTextEditor;
  },
};

export const commands = {
  registerCommand: (command: string, handler: (...args: unknown[]) => unknown) => {
    if (fake.commands.has(command)) throw new Error(`command ${command} already registered`);
    fake.commands.set(command, handler);
    return new Disposable(() => fake.commands.delete(command));
  },
  executeCommand: (command: string, ...args: unknown[]) => {
    fake.executed.push({ command, args });
    if (command === 'vscode.diff') fake.tabs.push({ input: new TabInputTextDiff(args[0] as Uri, args[1] as Uri) });
    const handler = fake.commands.get(command);
    return Promise.resolve(handler ? handler(...args) : undefined);
  },
};

export const languages = {
  getDiagnostics: (uri: Uri) => fake.diagnostics.get(uri.toString()) ?? [],
};

export const extensions = {
  getExtension: (id: string) => fake.extensions.get(id),
};

export const tasks = {
  executeTask: (task: Task) => {
    fake.tasks.push(task);
    const execution = { task };
    // The process "ends" on the next tick, as a real task would later.
    setTimeout(() => fake.taskEndEmitter.fire({ execution, exitCode: fake.taskExitCode }), 0);
    return Promise.resolve(execution);
  },
  onDidEndTaskProcess: (l: Listener<{ execution: unknown; exitCode: number | undefined }>) => fake.taskEndEmitter.event(l),
};

/** An ExtensionContext with in-memory SecretStorage. */
export function makeContext() {
  const store = new Map<string, string>();
  const changed = new EventEmitter<{ key: string }>();
  const secrets = {
    store: (key: string, value: string) => {
      store.set(key, value);
      changed.fire({ key });
      return Promise.resolve();
    },
    get: (key: string) => Promise.resolve(store.get(key)),
    delete: (key: string) => {
      store.delete(key);
      changed.fire({ key });
      return Promise.resolve();
    },
    onDidChange: changed.event,
  };
  return { subscriptions: [] as { dispose(): unknown }[], secrets, _store: store };
}
