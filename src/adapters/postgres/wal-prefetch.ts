import path from 'node:path';
import { OperationError } from '../../errors.js';
import { fetchWal } from '../../pitr/wal-archive.js';
import { type WalObject } from '../../pitr/wal-names.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext } from '../types.js';

// The WAL a recovery needs, fetched in parallel and verified into a spool inside the data
// directory before the server starts, while the base backup is extracted: restore_command then
// moves spooled files with a plain `mv`, with no process start per segment.

/** The spool's directory name inside the data directory. */
export const SPOOL = 'drctl_wal_spool';
const PREFETCH = 4;

export async function prefetchWal(ctx: ActionContext, repo: Repository, files: WalObject[], spool: string, signal: AbortSignal = ctx.signal): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      signal.throwIfAborted();
      const w = files[next++]!;
      const ok = await fetchWal(repo, w.name, path.join(spool, w.name), signal);
      if (!ok) throw new OperationError('pitr.walMissing', `WAL ${w.name} disappeared from the archive during the restore`);
      done++;
      ctx.progress({ message: `WAL ${done}/${files.length} fetched and verified` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREFETCH, files.length) }, worker));
}
