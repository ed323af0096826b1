/**
 * State of the fusions the server runs, fed by the `fuse/modelStatus` and
 * `fuse/fusionStatus` notifications (docs/protocol.md). Pure: the status bar and the
 * progress notifications are views over it.
 */

export type ModelState = 'started' | 'streaming' | 'finished' | 'failed' | 'cancelled';
export type FusionStateName = 'started' | 'judging' | 'finished' | 'failed' | 'cancelled';

export interface ModelStatusParams {
  fusionId: string;
  uri: string;
  task: string;
  model: string;
  index: number;
  state: ModelState;
  latencyMs?: number;
  costUsd?: number;
  error?: string;
}

export interface FusionStatusParams {
  fusionId: string;
  uri: string;
  task: string;
  state: FusionStateName;
  inFlight: number;
  costUsd?: number;
  sessionCostUsd: number;
}

export interface ModelEntry {
  model: string;
  index: number;
  state: ModelState;
  latencyMs?: number;
  costUsd?: number;
  error?: string;
}

export interface Fusion {
  fusionId: string;
  uri: string;
  task: string;
  state: FusionStateName;
  /** Order of first sight; lets a progress view bind to fusions started after a request. */
  seq: number;
  models: ModelEntry[];
  costUsd?: number;
}

const DONE: ReadonlySet<FusionStateName> = new Set(['finished', 'failed', 'cancelled']);
/** Finished fusions kept for the status bar tooltip. */
const KEEP_FINISHED = 5;

export type Listener = (fusion: Fusion | undefined) => void;

export class FusionTracker {
  private readonly fusions = new Map<string, Fusion>();
  private readonly listeners = new Set<Listener>();
  private nextSeq = 1;
  sessionCostUsd = 0;

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Sequence number the next new fusion will get. */
  get mark(): number {
    return this.nextSeq;
  }

  /**
   * Fusions running now, counted here from their start and end notifications. The
   * server's own `inFlight` is not used: in its `finished` notification it still counts
   * the fusion that just finished, which would leave the spinner on.
   */
  get inFlight(): number {
    return this.running().length;
  }

  running(): Fusion[] {
    return [...this.fusions.values()].filter((f) => !DONE.has(f.state));
  }

  /** Most recent first. */
  recent(): Fusion[] {
    return [...this.fusions.values()].sort((a, b) => b.seq - a.seq);
  }

  get(fusionId: string): Fusion | undefined {
    return this.fusions.get(fusionId);
  }

  /** First fusion of `uri` first seen at or after `mark`, preferring the same task. */
  find(uri: string, task: string, mark: number, exclude: ReadonlySet<string>): Fusion | undefined {
    const candidates = [...this.fusions.values()]
      .filter((f) => f.uri === uri && f.seq >= mark && !exclude.has(f.fusionId))
      .sort((a, b) => a.seq - b.seq);
    return candidates.find((f) => f.task === task) ?? candidates[0];
  }

  applyModelStatus(params: ModelStatusParams): void {
    if (!isObject(params) || typeof params.fusionId !== 'string') {
      return;
    }
    const fusion = this.ensure(params.fusionId, params.uri, params.task);
    const entry: ModelEntry = {
      model: String(params.model),
      index: Number(params.index),
      state: params.state,
      latencyMs: params.latencyMs,
      costUsd: params.costUsd,
      error: params.error,
    };
    const at = fusion.models.findIndex((m) => m.index === entry.index);
    if (at >= 0) {
      fusion.models[at] = entry;
    } else {
      fusion.models.push(entry);
      fusion.models.sort((a, b) => a.index - b.index);
    }
    this.emit(fusion);
  }

  applyFusionStatus(params: FusionStatusParams): void {
    if (!isObject(params) || typeof params.fusionId !== 'string') {
      return;
    }
    const fusion = this.ensure(params.fusionId, params.uri, params.task);
    fusion.state = params.state;
    if (typeof params.costUsd === 'number') {
      fusion.costUsd = params.costUsd;
    }
    if (typeof params.sessionCostUsd === 'number') {
      this.sessionCostUsd = params.sessionCostUsd;
    }
    this.prune();
    this.emit(fusion);
  }

  /** A new server process starts with nothing in flight and a fresh session cost. */
  reset(): void {
    this.fusions.clear();
    this.sessionCostUsd = 0;
    this.emit(undefined);
  }

  private ensure(fusionId: string, uri: string, task: string): Fusion {
    let fusion = this.fusions.get(fusionId);
    if (!fusion) {
      fusion = { fusionId, uri: String(uri), task: String(task), state: 'started', seq: this.nextSeq++, models: [] };
      this.fusions.set(fusionId, fusion);
    }
    return fusion;
  }

  private prune(): void {
    const done = this.recent().filter((f) => DONE.has(f.state));
    for (const fusion of done.slice(KEEP_FINISHED)) {
      this.fusions.delete(fusion.fusionId);
    }
  }

  private emit(fusion: Fusion | undefined): void {
    for (const listener of [...this.listeners]) {
      listener(fusion);
    }
  }
}

export function isDone(state: FusionStateName): boolean {
  return DONE.has(state);
}

/** `anthropic/claude-sonnet-4.5` -> `claude-sonnet-4.5`: the vendor prefix is noise in a status line. */
export function shortModel(id: string): string {
  const slash = id.lastIndexOf('/');
  return slash >= 0 ? id.slice(slash + 1) : id;
}

const MODEL_MARK: Record<ModelState, string> = {
  started: '…',
  streaming: '⋯',
  finished: '✓',
  failed: '✗',
  cancelled: '⊘',
};

/** One line for a progress notification: `gpt-5 ✓ 2.1s · claude-sonnet-4.5 ⋯`. */
export function describeModels(fusion: Fusion): string {
  const models = fusion.models.map((m) => {
    const latency = m.state === 'finished' && typeof m.latencyMs === 'number' ? ` ${(m.latencyMs / 1000).toFixed(1)}s` : '';
    return `${shortModel(m.model)} ${MODEL_MARK[m.state] ?? m.state}${latency}`;
  });
  const judging = fusion.state === 'judging' ? ' · judging' : '';
  return models.join(' · ') + judging;
}

export function formatUsd(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) {
    return '$0.00';
  }
  return value < 0.01 && value > 0 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}
