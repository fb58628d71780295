import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from './context.js';

// Glue between commander and the command handlers: a handler gets the context built from the
// global options, its own options and its arguments, and returns the exit code.

export type Handler<O, A extends unknown[]> = (ctx: CliContext, opts: O, ...args: A) => Promise<number>;
export type Action = <O, A extends unknown[]>(
  handler: Handler<O, A>,
  o?: { context?: boolean },
) => (...args: unknown[]) => Promise<void>;

/** Builds `act`, which stores each handler's exit code through `setExit`. */
export function actionFactory(setExit: (code: number) => void): Action {
  return <O, A extends unknown[]>(handler: Handler<O, A>, o: { context?: boolean } = {}) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const positional = args.slice(0, -2) as A;
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      let ctx: CliContext;
      if (o.context === false) ctx = undefined as unknown as CliContext;
      else {
        const { createContext } = await import('./context.js');
        ctx = await createContext(globals);
      }
      setExit(await handler(ctx, cmd.opts() as O, ...positional));
    };
}

/** commander accumulator for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
