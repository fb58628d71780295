import type { Command } from 'commander';
import type { Action } from '../program.js';
import { DrctlError, formatProblem, ValidationError } from '../../errors.js';
import { builtInRegistry } from '../../adapters/registry.js';
import { loadRunbook } from '../../runbook/load.js';
import { resolveRunbook } from '../context.js';

// drctl validate <runbook>...: every problem of every file as file:line:col message; exit 2.
export function registerValidate(program: Command, act: Action): void {
  program
    .command('validate')
    .argument('<runbook...>', 'runbook files or names')
    .action(
      act(async (ctx, _opts: object, runbooks: string[]) => {
        const registry = builtInRegistry();
        let bad = 0;
        for (const arg of runbooks) {
          try {
            const file = resolveRunbook(ctx, arg);
            const { runbook, warnings } = await loadRunbook(file, registry);
            for (const w of warnings) process.stderr.write(`${formatProblem(w)}\n`);
            process.stdout.write(`${file}: ok (${runbook.name}, ${runbook.steps.length + runbook.finally.length} steps)\n`);
          } catch (err) {
            if (err instanceof ValidationError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
            else if (err instanceof DrctlError) process.stderr.write(`${err.message}\n`);
            else throw err;
            bad++;
          }
        }
        return bad ? 2 : 0;
      }),
    );
}
