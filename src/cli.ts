#!/usr/bin/env node
// drctl entry point: run the CLI, then exit with its code once output is flushed. A handle left
// open by a driver must not keep a finished command alive, hence the unref'd fallback exit.
// wal-push / wal-fetch take a lean path: PostgreSQL runs them once per WAL segment.

import { missingModuleMessage } from './errors.js';
import { walFetchFailureCode } from './cli/wal-fetch-exit.js';

// The build's source maps ship with the package: with DRCTL_DEBUG=1 a stack names the
// TypeScript file and line, not a place in a bundled chunk (the command's chunks load after
// this line).
if (process.env.DRCTL_DEBUG === '1') process.setSourceMapsEnabled(true);

const argv = process.argv.slice(2);
// restore_command must never exit 1 ("not archived") for a failure: not for an exception that
// escaped, nor for code that could not be loaded (wal-fetch-exit.ts).
const failedCode = () => (argv.includes('wal-fetch') ? walFetchFailureCode() : 1);
let code: number | undefined;
process.on('uncaughtException', (err) => {
  process.stderr.write(`drctl: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.DRCTL_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  // A stray error after the command finished (a socket closing late) does not undo its result:
  // a WAL file already restored and verified stays restored.
  process.exit(code ?? failedCode());
});
try {
  if (argv.includes('wal-push') || argv.includes('wal-fetch')) {
    const { walFastPath } = await import('./cli/wal-fast.js');
    code = await walFastPath(argv);
  }
  if (code === undefined) {
    const { main } = await import('./cli/main.js');
    code = await main(process.argv);
  }
} catch (err) {
  // Only what the error reporting itself could not load gets here (drctl upgraded or removed
  // while it ran): one line still, from what was loaded at start.
  const line = err instanceof Error ? (missingModuleMessage(err) ?? `internal error: ${err.message}`) : String(err);
  process.stderr.write(`drctl: ${line}\n`);
  code = failedCode();
}
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
