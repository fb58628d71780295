import type { Command } from 'commander';
import type { Action } from '../program.js';

// drctl history: earlier runs and drills with their RTO figures, newest first.
export function registerHistory(program: Command, act: Action): void {
  program
    .command('history')
    .description('list earlier runs and drills with their times and RTO verdicts')
    .option('--runbook <name>', 'only this runbook')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print as JSON')
    .action(
      act(async (ctx, opts: { runbook?: string; limit: string; json?: boolean }) => {
        const { UsageError } = await import('../../errors.js');
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${opts.limit}: expected a positive integer`, 'usage.limit');
        const { listRuns } = await import('../../report/history.js');
        const { formatDuration } = await import('../../time/duration.js');
        const runs = await listRuns(ctx.stateDir, { runbook: opts.runbook, limit });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
          return 0;
        }
        if (!runs.length) {
          process.stdout.write(`no runs recorded in ${ctx.stateDir}\n`);
          return 0;
        }
        const rows = runs.map((r) => {
          const rto = r.verdicts.find((v) => v.name === 'rto');
          const slowest = [...r.steps].sort((a, b) => b.durationMs - a.durationMs)[0];
          return [
            r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
            r.runbook,
            r.kind,
            r.status,
            formatDuration(r.durationMs),
            rto ? `${rto.met ? 'met' : 'MISSED'} (${formatDuration(rto.targetMs)})` : '-',
            slowest ? `${slowest.id} ${formatDuration(slowest.durationMs)}` : '-',
            r.runId,
          ];
        });
        const { formatTable } = await import('../../report/table.js');
        process.stdout.write(formatTable(['started', 'runbook', 'kind', 'status', 'time', 'RTO', 'slowest step', 'run'], rows));
        return 0;
      }),
    );
}
