/** Runs a short command (the version check) without a shell. */
import { execFile } from 'child_process';
import type { ProcessResult, ProcessRunner } from './server';

export const runProcess: ProcessRunner = (command, args, timeoutMs, env) =>
  new Promise<ProcessResult>((resolve) => {
    const options = { timeout: timeoutMs, windowsHide: true, encoding: 'utf8' as const, env: env ? { ...process.env, ...env } : undefined };
    execFile(command, [...args], options, (error, stdout, stderr) => {
      const errno = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
      resolve({
        code: errno ? (typeof errno.code === 'number' ? errno.code : null) : 0,
        stdout,
        stderr,
        error: errno && typeof errno.code === 'string' ? errno : undefined,
      });
    });
  });
