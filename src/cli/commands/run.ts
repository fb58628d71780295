import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { executeRunbook } from '../execute.js';
import { resolveRunbook } from '../context.js';

// drctl run <runbook> [--var k=v]... [--from-step <id>]
export function registerRun(program: Command, act: Action): void {
  program
    .command('run')
    .argument('<runbook>', 'runbook file or name')
    .option('--var <name=value>', 'set a runbook input (repeatable)', collect, [])
    .option('--from-step <id>', 'start at this step; earlier steps are skipped')
    .option('--incident <title>', 'keep an incident record: timeline, confirmations, notes, RTO/RPO (Markdown in the state dir)')
    .action(
      act(async (ctx, opts: { var: string[]; fromStep?: string; incident?: string }, runbook: string) => {
        return (await executeRunbook(ctx, resolveRunbook(ctx, runbook), { vars: opts.var, fromStep: opts.fromStep, incident: opts.incident })).exitCode;
      }),
    );
}
