import { existsSync } from 'node:fs';
import path from 'node:path';
import { aheadSettings, answeredAhead, pushWithLookAhead } from '../pitr/wal-ahead.js';
import { fetchWal } from '../pitr/wal-archive.js';
import { openStorage, type StorageSettings } from '../repository/open-storage.js';
import { readInfo, RepoHandle } from '../repository/repo-handle.js';
import { pausePoint } from '../testing-faults.js';
import { WAL_NOT_ARCHIVED } from './wal-fetch-exit.js';

// The one implementation of wal-push and wal-fetch, reached from the fast entry (wal-fast.ts,
// what archive_command and restore_command run) and from the commander commands alike. Each
// returns the exit code. Both load this module lazily, so its imports are static: they are
// what a wal command needs and nothing more.

export async function walPush(s: StorageSettings, repoUrl: string | undefined, file: string): Promise<number> {
  const ahead = aheadSettings(s.env, file);
  const where = repoUrl ?? (s.config.repo as string | undefined) ?? s.env.DRCTL_REPO;
  // Pushed ahead by an earlier run: answered without unlocking the repository's key. The marker
  // check costs nothing when there is no marker, the common case without a backlog.
  if (where && existsSync(path.join(ahead.spool, `${path.basename(file)}.ok`))) {
    const storage = await openStorage(where, s);
    if (await answeredAhead(storage, await readInfo(storage), file, ahead.spool)) return 0;
  }
  const repo = await RepoHandle.open(repoUrl, s, { create: true, repairCopy: false });
  await pushWithLookAhead(repo, file, ahead);
  return 0;
}

export async function walFetch(s: StorageSettings, repoUrl: string | undefined, name: string, dest: string): Promise<number> {
  await pausePoint('wal-fetch', s.env);
  const repo = await RepoHandle.open(repoUrl, s);
  // Not archived: exit 1 without a word, as PostgreSQL expects while it probes. Every failure
  // is thrown, and leaves with walFetchFailureCode (wal-fetch-exit.ts).
  return (await fetchWal(repo, name, dest)) ? 0 : WAL_NOT_ARCHIVED;
}
