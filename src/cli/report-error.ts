import { DrctlError, ValidationError, formatProblem } from '../errors.js';
import { secrets } from '../redact.js';

// The one place that turns an error into one line on stderr and an exit code.
/** Prints one line for an error (the stack only with DRCTL_DEBUG=1) and returns the exit code. */
export async function reportError(err: unknown): Promise<number> {
  const debug = process.env.DRCTL_DEBUG === '1';
  if (err instanceof ValidationError) {
    for (const p of err.problems) process.stderr.write(`${secrets.redact(formatProblem(p))}\n`);
    return err.exitCode;
  }
  if (err instanceof DrctlError) {
    process.stderr.write(`drctl: ${secrets.redact(err.message)}\n`);
    if (debug && err.stack) process.stderr.write(`${secrets.redact(err.stack)}\n`);
    return err.exitCode;
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`drctl: internal error: ${secrets.redact(msg)}${debug ? '' : ' (DRCTL_DEBUG=1 shows the stack)'}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${secrets.redact(err.stack)}\n`);
  return 1;
}
