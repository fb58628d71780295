import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { runProcess } from '../../process/run-process.js';

// shell.run: a command through /bin/sh -c. On timeout or interrupt the whole process group is
// stopped, so `a; sleep 30` leaves no orphan behind.

const Input = z.strictObject({
  command: z.string().min(1),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  cwd: z.string().optional(),
  okExitCodes: z.array(z.number().int()).default([0]).meta({ description: 'Exit codes that count as success' }),
});

export const shellRun = defineAction({
  name: 'shell.run',
  summary: 'Run a shell command (/bin/sh -c)',
  input: Input,
  outputs: ['exitCode', 'stdout', 'stderr'],
  describe: (i) => `sh -c ${JSON.stringify(i.command)}${i.cwd ? ` in ${i.cwd}` : ''}`,
  async run(ctx, i) {
    const env = Object.fromEntries(Object.entries(i.env).map(([k, v]) => [k, String(v)]));
    const r = await runProcess('/bin/sh', ['-c', i.command], {
      signal: ctx.signal,
      cwd: i.cwd,
      env: { ...ctx.env, ...env },
      onLine: (line) => ctx.progress({ message: line }),
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
