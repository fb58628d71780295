import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from './context.js';
import { UsageError } from '../errors.js';

// Glue between commander and the command handlers: a handler gets the context built from the
// global options, its own options and its arguments, and returns the exit code.

export type Handler<O, A extends unknown[]> = (ctx: CliContext, opts: O, ...args: A) => Promise<number>;
export type Action = <O, A extends unknown[]>(
  handler: Handler<O, A>,
  o?: { context?: boolean },
) => (...args: unknown[]) => Promise<void>;

/**
 * The commands that honour --dry-run: they print what they would do (a runbook's plan,
 * expire's list) or only read. Every other command refuses --dry-run with exit 2 rather than
 * act on it: an archive_command that silently archived, or an expire that deleted, under
 * --dry-run would be worse than no flag at all.
 */
export const DRY_RUN_HONOURED = new Set([
  'run', 'drill', 'backup', 'restore', 'verify-backups', 'health', 'rollback', 'redis backup', 'redis restore',
  'backups expire', 'repo unlock', 'repo init', 'repo key change', 'repo info',
  'validate', 'plan', 'schema', 'history', 'backups list', 'backups show', 'completion', '__complete', 'config',
]);

/** `backups expire` for the expire subcommand of backups. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Builds `act`, which stores each handler's exit code through `setExit`. */
export function actionFactory(setExit: (code: number) => void): Action {
  return <O, A extends unknown[]>(handler: Handler<O, A>, o: { context?: boolean } = {}) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const positional = args.slice(0, -2) as A;
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      try {
        if (globals.dryRun && !DRY_RUN_HONOURED.has(commandPath(cmd))) {
          throw new UsageError('usage.dryRun', `--dry-run: ${commandPath(cmd)} has no dry run; run it without --dry-run, or not at all`);
        }
        let ctx: CliContext;
        if (o.context === false) ctx = undefined as unknown as CliContext;
        else {
          const { createContext } = await import('./context.js');
          ctx = await createContext(globals);
        }
        setExit(await handler(ctx, cmd.opts() as O, ...positional));
      } catch (err) {
        // A script that asked for --json reads stdout: it gets a document on failure too.
        if ((cmd.opts() as { json?: unknown }).json === true) await printFailureDocument(err);
        throw err;
      }
    };
}

/** commander accumulator for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The --json document of a command that failed before it had a result: why, and the exit code. */
async function printFailureDocument(err: unknown): Promise<void> {
  const output = await import('./output.js');
  if (output.jsonWasPrinted()) return;
  const { describeError } = await import('./report-error.js');
  const { lines, code } = describeError(err);
  output.jsonResult({ ok: false, exitCode: code, failures: lines.map((reason) => ({ reason })) });
}
