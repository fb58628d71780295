import type { Command } from 'commander';
import type { Action } from '../program.js';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { openStorage } from '../../repository/open-storage.js';
import { breakLock, describeLock, readLock, staleReason, LOCK_KEY } from '../../repository/lock.js';

// drctl repo unlock: removes a stale repository lock by hand. A live lock (refreshed within the
// last minutes, or held by a running process on this host) is refused unless --force; either
// way the operator confirms first (--yes).
export function registerRepoUnlock(repo: Command, act: Action): void {
  repo
    .command('unlock')
    .description('remove a stale repository lock (a live one only with --force); asks first')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--force', 'also remove a lock that still looks live')
    .action(
      act(async (ctx, o: { repo?: string; force?: boolean }) => {
        const url = o.repo ?? ctx.config.repo ?? ctx.env.DRCTL_REPO;
        if (!url) throw new UsageError('usage.repo', 'no repository: pass --repo, set repo: in drctl.yaml, or set DRCTL_REPO');
        // The lock is not encrypted: unlocking needs no key.
        const storage = await openStorage(url, { env: ctx.env, config: ctx.config });
        const held = await readLock(storage, { written: true });
        if (!held) {
          process.stdout.write(`${storage.location} is not locked\n`);
          return 0;
        }
        const stale = staleReason(held);
        if (!stale && !o.force) {
          throw new OperationError(
            'repo.lockLive',
            `${storage.location} is locked by ${describeLock(held)}${held.refreshedAt ? `, refreshed ${held.refreshedAt}` : ''}: it looks live; if you are sure that process is gone, pass --force`,
          );
        }
        const what = `${LOCK_KEY} in ${storage.location} (${describeLock(held)}; ${stale ?? 'LIVE'})`;
        if (ctx.dryRun) {
          process.stdout.write(`would remove ${what}\n`);
          return 0;
        }
        if (!(await ctx.confirm(`Remove the repository lock ${what}?`))) throw new ConfirmationError('confirm.declined', 'declined: the lock was left in place');
        if (!(await breakLock(storage, held))) throw new OperationError('repo.lockChanged', `${storage.location}: the lock changed meanwhile (another process took or released it); nothing removed`);
        process.stdout.write(`removed ${what}\n`);
        return 0;
      }),
    );
}
