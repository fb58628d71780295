import type { Command } from 'commander';
import { collect, type Action } from '../program.js';

// drctl health [runbook]: runs runbooks/health.yaml (or the given one) and prints one table:
// service, check, status, figure, latency. Exit 1 if any check fails.
export function registerHealth(program: Command, act: Action): void {
  program
    .command('health')
    .argument('[runbook]', 'health runbook (default: health)', 'health')
    .option('--var <name=value>', 'set a runbook input (repeatable)', collect, [])
    .option('--json', 'print the table as JSON')
    .action(
      act(async (ctx, o: { var: string[]; json?: boolean }, runbook: string) => {
        const { executeRunbook } = await import('../execute.js');
        const { resolveRunbook } = await import('../context.js');
        const r = await executeRunbook(ctx, resolveRunbook(ctx, runbook), { vars: o.var });
        if (!r.report) return r.exitCode;
        const { loadRunbook } = await import('../../runbook/load.js');
        const { builtInRegistry } = await import('../../adapters/registry.js');
        const names = new Map((await loadRunbook(r.report.file, builtInRegistry())).runbook.steps.map((s) => [s.id, s.name ?? s.id]));
        const rows = r.report.steps.map((s) => ({
          service: names.get(s.id) ?? s.id,
          check: s.uses,
          status: s.status === 'succeeded' ? 'ok' : s.status === 'skipped' ? 'not configured' : 'FAIL',
          figure: s.status === 'failed' ? (s.reason ?? '') : s.status === 'skipped' ? '' : String(s.outputs.figure ?? ''),
          latencyMs: s.status === 'skipped' ? undefined : s.durationMs,
        }));
        if (o.json) process.stdout.write(`${JSON.stringify({ ok: r.exitCode === 0, checks: rows }, null, 2)}\n`);
        else {
          const { formatTable } = await import('../../report/table.js');
          process.stdout.write(formatTable(['service', 'check', 'status', 'figure', 'latency'], rows.map((x) => [x.service, x.check, x.status, x.figure, x.latencyMs === undefined ? '' : `${x.latencyMs} ms`])));
        }
        return r.exitCode;
      }),
    );
}
