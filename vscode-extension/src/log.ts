/**
 * Output channel and logging. Every line the extension or the language client writes
 * goes through `RedactingOutputChannel`, so a stored API key cannot reach the log even if
 * the server echoed its environment on stderr.
 */
import type * as vscode from 'vscode';

/** Shorter strings are not masked: masking "ab" everywhere would wreck the log. */
const MIN_SECRET_LENGTH = 6;
export const REDACTED = '[redacted]';

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Secrets stay registered after they change: an old key must not leak either. */
  add(secret: string | undefined): void {
    if (secret !== undefined && secret.length >= MIN_SECRET_LENGTH) {
      this.secrets.add(secret);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      out = out.split(secret).join(REDACTED);
    }
    return out;
  }
}

export class RedactingOutputChannel implements vscode.OutputChannel {
  constructor(
    private readonly inner: vscode.OutputChannel,
    private readonly redactor: Redactor,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  append(value: string): void {
    this.inner.append(this.redactor.redact(value));
  }

  appendLine(value: string): void {
    this.inner.appendLine(this.redactor.redact(value));
  }

  replace(value: string): void {
    this.inner.replace(this.redactor.redact(value));
  }

  clear(): void {
    this.inner.clear();
  }

  show(columnOrPreserveFocus?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserveFocus === 'boolean') {
      this.inner.show(columnOrPreserveFocus);
    } else {
      this.inner.show(columnOrPreserveFocus, preserveFocus);
    }
  }

  hide(): void {
    this.inner.hide();
  }

  dispose(): void {
    this.inner.dispose();
  }
}

export class Logger {
  constructor(
    readonly channel: vscode.OutputChannel,
    private readonly redactor: Redactor = new Redactor(),
  ) {}

  /** For text shown to the user outside the channel (error messages quoting the server). */
  redact(text: string): string {
    return this.redactor.redact(text);
  }

  info(message: string): void {
    this.channel.appendLine(`[${timestamp()}] ${message}`);
  }

  error(message: string, error?: unknown): void {
    const detail = error === undefined ? '' : `: ${describeError(error)}`;
    this.channel.appendLine(`[${timestamp()}] ERROR ${message}${detail}`);
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error).message);
  }
  return String(error);
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}
