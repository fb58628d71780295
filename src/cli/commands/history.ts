import type { Command } from 'commander';
import type { Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { formatDuration } from '../../time/duration.js';
import { formatTable } from '../../report/table.js';
import { openRepository } from '../open-repository.js';
import { listRuns } from '../../report/history.js';
import { truthfulVerdicts } from '../../report/verdicts.js';

// drctl history: earlier runs and drills with their RTO figures, newest first.
export function registerHistory(program: Command, act: Action): void {
  program
    .command('history')
    .option('--runbook <name>', 'only this runbook')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print as JSON')
    .option('--verify', 'verification results stored in the repository instead')
    .option('--repo <url>', 'with --verify: the repository (default: config repo, DRCTL_REPO)')
    .action(
      act(async (ctx, opts: { runbook?: string; limit: string; json?: boolean; verify?: boolean; repo?: string }) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('usage.limit', `--limit ${opts.limit}: expected a positive integer`);
        if (opts.verify) return verifyHistory(ctx, opts.repo, limit, opts.json ?? false);
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
          const rto = truthfulVerdicts(r).find((v) => v.name === 'rto');
          const slowest = [...r.steps].sort((a, b) => b.durationMs - a.durationMs)[0];
          return [
            r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
            r.runbook,
            r.kind,
            r.status,
            formatDuration(r.durationMs),
            rto ? `${rto.notRecovered ? 'NOT RECOVERED' : rto.met ? 'met' : 'MISSED'} (${formatDuration(rto.targetMs)})` : '-',
            slowest ? `${slowest.id} ${formatDuration(slowest.durationMs)}` : '-',
            r.runId,
          ];
        });
        process.stdout.write(formatTable(['started', 'runbook', 'kind', 'status', 'time', 'RTO', 'slowest step', 'run'], rows));
        return 0;
      }),
    );
}

async function verifyHistory(ctx: { env: Record<string, string | undefined>; config: Record<string, unknown> }, url: string | undefined, limit: number, json: boolean): Promise<number> {
  const repo = await openRepository(ctx, url);
  const keys = (await repo.storage.list('history/verify/')).map((k) => k.key).filter((k) => k.endsWith('.json')).sort().reverse().slice(0, limit);
  const results: { startedAt: string; ok: boolean; durationMs: number; newest?: { id: string }; checks: { name: string; status: string; figure: string }[] }[] = [];
  for (const k of keys) {
    try {
      results.push(JSON.parse(await repo.getDocument(k, { legacyPlaintext: true })));
    } catch {
      // an unreadable entry is skipped, never fatal
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return 0;
  }
  if (!results.length) {
    process.stdout.write(`no verification recorded in ${repo.storage.location}\n`);
    return 0;
  }
  const rows = results.map((r) => [
    r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.ok ? 'ok' : 'FAILED',
    formatDuration(r.durationMs),
    r.newest?.id ?? '-',
    r.checks.filter((c) => c.status === 'fail').map((c) => c.name).join(', ') || '-',
  ]);
  process.stdout.write(formatTable(['verified', 'result', 'took', 'newest backup', 'failed checks'], rows));
  return 0;
}
