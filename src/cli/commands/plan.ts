import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { secrets } from '../../redact.js';
import { builtInRegistry } from '../../adapters/registry.js';
import { loadRunbook } from '../../runbook/load.js';
import { parseVars, resolveInputs } from '../../engine/inputs.js';
import { planRunbook } from '../../engine/plan.js';
import { Scope } from '../../engine/scope.js';
import { formatPlan } from '../print-plan.js';
import { resolveRunbook } from '../context.js';

// drctl plan <runbook>: the resolved steps with timeouts, budgets and targets; touches nothing.
// Required inputs nobody gave are marked, never filled in.
export function registerPlan(program: Command, act: Action): void {
  program
    .command('plan')
    .argument('<runbook>', 'runbook file or name')
    .option('--var <name=value>', 'set a runbook input (repeatable)', collect, [])
    .option('--json', 'print the plan as JSON')
    .action(
      act(async (ctx, opts: { var: string[]; json?: boolean }, arg: string) => {
        const registry = builtInRegistry();
        const { runbook } = await loadRunbook(resolveRunbook(ctx, arg), registry);
        const missing: import('../../engine/inputs.js').MissingInput[] = [];
        const inputs = resolveInputs(runbook, parseVars(opts.var), ctx.env, { lenient: true, missing });
        const plan = planRunbook(runbook, registry, new Scope(ctx.env, inputs, { id: 'plan', name: runbook.name, startedAt: Date.now() }));
        process.stdout.write(secrets.redact(opts.json ? `${JSON.stringify({ ...plan, missingInputs: missing }, null, 2)}\n` : formatPlan(plan, missing)));
        return 0;
      }),
    );
}
