/**
 * Diagnostics as the Problems panel should list them. Two findings with the same range,
 * severity and text are one finding to a reader; VS Code lists such duplicates once but
 * counts both in the badge, so the numbers disagree. Keep the one more models voted for.
 */

interface DiagnosticLike {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  message: string;
  severity?: number;
  source?: string;
  data?: unknown;
}

function votes(diagnostic: DiagnosticLike): number {
  const data = diagnostic.data as { votes?: unknown } | undefined;
  return typeof data?.votes === 'number' ? data.votes : 0;
}

function key(d: DiagnosticLike): string {
  const r = d.range;
  return JSON.stringify([r.start.line, r.start.character, r.end.line, r.end.character, d.severity, d.source, d.message]);
}

export function uniqueDiagnostics<D extends DiagnosticLike>(diagnostics: readonly D[]): D[] {
  const kept = new Map<string, D>();
  for (const diagnostic of diagnostics) {
    const k = key(diagnostic);
    const seen = kept.get(k);
    if (seen === undefined || votes(diagnostic) > votes(seen)) {
      kept.set(k, diagnostic);
    }
  }
  return [...kept.values()];
}
