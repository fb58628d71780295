import type { Command } from 'commander';
import type { Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { executeRunbook } from '../execute.js';
import { builtInRunbook } from '../context.js';
import { result } from '../output.js';

// drctl redis backup|restore: Redis RDB snapshots through runbooks/redis-{backup,restore}.yaml.
export function registerRedis(program: Command, act: Action): void {
  const redis = program.command('redis');
  redis
    .command('backup')
    .description('BGSAVE (waiting for completion the reliable way) and store the RDB; prints the backup id')
    .option('--url <redis-url>', 'Redis (default: REDIS_URL)')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--label <text>', 'free text stored with the backup')
    .option('--source <source>', 'auto, file (the RDB file on this host) or replication (redis-cli --rdb, for a Redis elsewhere)', 'auto')
    .option('--runbook <file>', 'run this runbook instead of the built-in redis-backup')
    .action(
      act(async (ctx, o: { url?: string; repo?: string; label?: string; source: string; runbook?: string }) => {
        const r = await executeRunbook(ctx, builtInRunbook(ctx, 'redis-backup', o.runbook), { inputs: { url: o.url ?? ctx.config.redis, repo: o.repo ?? ctx.config.repo, label: o.label, source: o.source } });
        const id = r.report?.steps.find((s) => s.id === 'backup')?.outputs.backupId;
        if (r.exitCode === 0 && typeof id === 'string') result(`${id}\n`);
        return r.exitCode;
      }),
    );
  redis
    .command('restore')
    .description('verify a snapshot, stop Redis, put the RDB in place, start it, check the key count')
    .option('--backup <id>', 'backup id or latest', 'latest')
    .option('--url <redis-url>', 'Redis (default: REDIS_URL)')
    .option('--repo <url>', 'repository')
    .option('--start-command <cmd>', 'command that starts Redis again (required)')
    .option('--stop-command <cmd>', 'command that stops Redis (default: SHUTDOWN NOSAVE)')
    .option('--runbook <file>', 'run this runbook instead of the built-in redis-restore')
    .action(
      act(async (ctx, o: { backup: string; url?: string; repo?: string; startCommand?: string; stopCommand?: string; runbook?: string }) => {
        if (!o.startCommand) throw new UsageError('usage.redis', 'redis restore needs --start-command (how to start Redis after the snapshot is in place)');
        const r = await executeRunbook(ctx, builtInRunbook(ctx, 'redis-restore', o.runbook), {
          inputs: { url: o.url ?? ctx.config.redis, repo: o.repo ?? ctx.config.repo, backup: o.backup, startCommand: o.startCommand, stopCommand: o.stopCommand },
        });
        const out = r.report?.steps.find((s) => s.id === 'restore')?.outputs;
        if (r.exitCode === 0 && out) result(`restored ${String(out.backupId)}: ${String(out.keys)} keys\n`);
        return r.exitCode;
      }),
    );
}
