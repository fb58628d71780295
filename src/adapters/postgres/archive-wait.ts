import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../errors.js';
import { listWal } from '../../pitr/wal-archive.js';
import { timelineOf } from '../../pitr/wal-names.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext } from '../types.js';

/**
 * Waits until `segment` is in the repository's archive. The error points at archive_command
 * without quoting it: the command may carry credentials (a repository URL, a key).
 */
export async function waitForArchived(
  ctx: ActionContext,
  repo: Repository,
  segment: string,
  timeoutMs: number,
  archiveCommand: string,
  why = 'which this base backup needs',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await listWal(repo, timelineOf(segment))).some((w) => w.name === segment)) return;
    if (Date.now() > deadline) {
      throw new OperationError(
        'postgres.archiveTimeout',
        `WAL segment ${segment}, ${why}, did not reach ${repo.storage.location} within ${Math.round(timeoutMs / 1000)}s. Check archive_command (SHOW archive_command)${archiveCommand.includes('wal-push') ? '' : ', which does not run wal-push'}: it must be 'drctl wal-push %p' into this repository`,
      );
    }
    await sleep(250, undefined, { signal: ctx.signal });
  }
}
