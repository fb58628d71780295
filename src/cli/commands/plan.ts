import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { secrets } from '../../redact.js';

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
        const { builtInRegistry } = await import('../../adapters/registry.js');
        const { loadRunbook } = await import('../../runbook/load.js');
        const { parseVars, resolveInputs } = await import('../../engine/inputs.js');
        const { planRunbook } = await import('../../engine/plan.js');
        const { Scope } = await import('../../engine/scope.js');
        const { formatPlan } = await import('../print-plan.js');
        const { resolveRunbook } = await import('../context.js');
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
