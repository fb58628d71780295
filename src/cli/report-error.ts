import os from 'node:os';
import { DrctlError, ExitCode, ValidationError, formatProblem, missingModuleMessage } from '../errors.js';
import { secrets } from '../redact.js';

// The one place that turns an error into one line on stderr and an exit code.
/** Prints one line for an error (the stack only with DRCTL_DEBUG=1) and returns the exit code. */
export async function reportError(err: unknown): Promise<number> {
  const debug = process.env.DRCTL_DEBUG === '1';
  const { lines, code } = describeError(err);
  const prefix = err instanceof ValidationError ? '' : 'drctl: ';
  for (const line of lines) process.stderr.write(`${prefix}${line}\n`);
  if (debug && !(err instanceof ValidationError) && err instanceof Error && err.stack) process.stderr.write(`${secrets.redact(err.stack)}\n`);
  return code;
}

/** The redacted lines an error is reported with, and its exit code. */
export function describeError(err: unknown): { lines: string[]; code: number } {
  if (err instanceof ValidationError) return { lines: err.problems.map((p) => secrets.redact(formatProblem(p))), code: err.exitCode };
  // The operating system refused something (a repository directory another user owns, a full
  // disk): that is the environment, not a bug in drctl, and the line must say what and as whom.
  const sys = err instanceof DrctlError ? undefined : (err instanceof Error ? missingModuleMessage(err) : undefined) ?? systemErrorLine(err);
  const [line, code] =
    err instanceof DrctlError
      ? [err.message, err.exitCode]
      : sys
        ? [sys, ExitCode.failed]
        : [`internal error: ${err instanceof Error ? err.message : String(err)}${process.env.DRCTL_DEBUG === '1' ? '' : ' (DRCTL_DEBUG=1 shows the stack)'}`, ExitCode.failed];
  return { lines: [secrets.redact(line)], code };
}

const SYSTEM_CODES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
};

/** One line for a failed system call on a path, or undefined for any other error. */
function systemErrorLine(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  const what = e.code ? SYSTEM_CODES[e.code] : undefined;
  if (!what || !e.path) return undefined;
  let who = `uid ${process.getuid?.() ?? '?'}`;
  try {
    who = `user ${os.userInfo().username} (${who})`;
  } catch {
    // no passwd entry for this uid: the uid alone
  }
  // Who matters when access is refused: archive_command runs drctl as the server's user, not
  // as the user who created the repository.
  const as = e.code === 'EACCES' || e.code === 'EPERM' ? ` as ${who}` : '';
  return `${what}: ${e.syscall ?? 'access'} ${e.path}${as}`;
}
