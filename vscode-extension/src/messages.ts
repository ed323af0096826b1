/** The server's messages as a user reads them: one readable line, details in the log. */
import { shortModel } from './tracker';

export interface Notice {
  /** What the notification says (VS Code shows a message as one paragraph). */
  headline: string;
  /** More than the headline says: the log has it, so offer "Show Logs". */
  detailed: boolean;
}

/**
 * `Every model in the pool failed:\n- a: reason\n- b: reason\nRun fuse-ls doctor...` ->
 * `Every model in the pool failed (claude-sonnet-4.5, gpt-5): the reasons are in the log.
 * Run fuse-ls doctor...`. A one-line message is left as it is.
 */
export function notice(message: string): Notice {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length <= 1) {
    return { headline: message.trim(), detailed: false };
  }
  const bullets = lines.filter((l) => /^[-*•]\s/.test(l));
  const prose = lines.filter((l) => !/^[-*•]\s/.test(l));
  const names = bullets
    .map((b) => /^[-*•]\s+([^:\s]+):/.exec(b)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(shortModel);
  let headline = (prose[0] ?? lines[0]).replace(/[:.]\s*$/, '');
  if (names.length > 0) {
    headline += ` (${names.join(', ')})`;
  }
  headline += bullets.length > 0 ? ': the reasons are in the log.' : '.';
  const tail = prose.slice(1).join(' ');
  return { headline: tail ? `${headline} ${tail}` : headline, detailed: true };
}

/**
 * VS Code turns `[label](target)` in a notification into a link, `command:` targets
 * included: clicking runs that command. Server messages carry text fuse-ls did not write
 * (repository file names, a project's check output, an endpoint's or a model's error
 * text), so a label could hide a command. A space between `]` and `(` keeps the text
 * readable and makes it no link.
 */
export function inertLinks(text: string): string {
  return text.replace(/\]\(/g, '] (');
}

/** Notes of a result that mean it is degraded (docs/protocol.md `notes`), not informational. */
export function degradedNotes(notes: unknown): string[] {
  if (!Array.isArray(notes)) {
    return [];
  }
  return notes.filter((n): n is string => typeof n === 'string' && /judge|fell back|deadline|failed|no complete answer/i.test(n));
}
