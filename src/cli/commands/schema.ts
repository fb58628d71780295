import type { Command } from 'commander';
import type { Action } from '../program.js';
import { runbookJsonSchema } from '../../runbook/schema.js';

// drctl schema: the runbook JSON Schema, generated from the zod schema.
export function registerSchema(program: Command, act: Action): void {
  program
    .command('schema')
    .action(
      act(async () => {
        process.stdout.write(`${JSON.stringify(runbookJsonSchema(), null, 2)}\n`);
        return 0;
      }, { context: false }),
    );
}
