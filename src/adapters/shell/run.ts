import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { commandEnv, stringValues } from '../../process/child-env.js';
import { runProcess } from '../../process/run-process.js';

// shell.run: a command through /bin/sh -c. Values interpolated into `command` arrive as quoted
// words (see runbook/shell-template.ts); drctl's own secrets are not inherited unless `env:`
// names them. On timeout or interrupt the whole process group is stopped, so `a; sleep 30`
// leaves no orphan behind.

const Input = z.strictObject({
  command: z.string().min(1).meta({ description: 'A /bin/sh command line; ${...} values are inserted as quoted words (raw(...) inserts code)' }),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).meta({ description: "Variables for the command; drctl's own secrets reach it only when named here" }),
  cwd: z.string().optional(),
  okExitCodes: z.array(z.number().int()).default([0]).meta({ description: 'Exit codes that count as success' }),
});

export const shellRun = defineAction({
  name: 'shell.run',
  summary: 'Run a shell command (/bin/sh -c)',
  input: Input,
  outputs: ['exitCode', 'stdout', 'stderr'],
  shellInputs: ['command'],
  describe: (i) => `sh -c ${JSON.stringify(i.command)}${i.cwd ? ` in ${i.cwd}` : ''}`,
  async run(ctx, i) {
    const r = await runProcess('/bin/sh', ['-c', i.command], {
      signal: ctx.signal,
      cwd: i.cwd,
      env: commandEnv(ctx.env, stringValues(i.env)),
      onLine: (line) => ctx.progress({ message: line }),
      // `service &` or `pg_ctl start` without -l leaves a process holding stdout: the command is
      // done when the shell exits.
      exitGraceMs: 1000,
    });
    const outputs = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    if (!i.okExitCodes.includes(r.exitCode)) {
      const tail = lastLine(r.stderr) || lastLine(r.stdout);
      throw new OperationError(
        'shell.exit',
        `command exited with ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}${tail ? `: ${tail}` : ''}`,
        { cause: outputs },
      );
    }
    return outputs;
  },
});

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
