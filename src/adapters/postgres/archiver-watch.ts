import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../errors.js';
import { systemClock, type Clock } from '../../time/clock.js';
import type { Db } from './client.js';

// pg_basebackup -X none ends only after pg_backup_stop, and pg_backup_stop waits, without any
// limit, until the backup's last WAL segment is archived: with a failing archive_command the
// backup never ends (the tar's last member comes after that wait). pg_stat_archiver says
// whether archiving is failing, so a base backup refuses to start then, and gives up while it
// runs once archiving has failed for longer than it would wait for its last segment anyway.

export interface ArchiverStatus {
  lastArchivedWal: string | null;
  lastArchivedTime: Date | null;
  lastFailedWal: string | null;
  lastFailedTime: Date | null;
}

export async function archiverStatus(db: Db): Promise<ArchiverStatus> {
  const [r] = await db.query<ArchiverStatus>(
    `select last_archived_wal as "lastArchivedWal", last_archived_time as "lastArchivedTime",
            last_failed_wal as "lastFailedWal", last_failed_time as "lastFailedTime" from pg_stat_archiver`,
  );
  return r ?? { lastArchivedWal: null, lastArchivedTime: null, lastFailedWal: null, lastFailedTime: null };
}

/** A failure recorded after the last success (or with no success at all): the archiver is retrying it now. */
export function archivingFails(s: ArchiverStatus): boolean {
  if (!s.lastFailedTime) return false;
  return !s.lastArchivedTime || s.lastFailedTime.getTime() > s.lastArchivedTime.getTime();
}

function lastSuccess(s: ArchiverStatus): string {
  return s.lastArchivedWal && s.lastArchivedTime ? `the last success was ${s.lastArchivedWal} at ${s.lastArchivedTime.toISOString()}` : 'nothing was archived since the statistics were reset';
}

/** Throws when archiving is failing now: the base backup could never finish. */
export function assertArchivingWorks(s: ArchiverStatus, archiveCommand: string): void {
  if (!archivingFails(s)) return;
  throw new OperationError(
    'postgres.archive',
    `PostgreSQL is failing to archive WAL: ${s.lastFailedWal} failed at ${s.lastFailedTime!.toISOString()} (${lastSuccess(s)}). A base backup cannot complete until archiving works (see the server log); nothing was stored. Check archive_command (now: '${archiveCommand}')`,
  );
}

/** Poll interval: a quarter of the timeout, between 1 and 5 s. */
export function watchIntervalMs(timeoutMs: number): number {
  return Math.min(5000, Math.max(1000, Math.round(timeoutMs / 4)));
}

export interface ArchiverWatch {
  /** Set once archiving failed for longer than the timeout (and onStuck was called). */
  readonly failure: OperationError | undefined;
  /** Ends the polling at once; an in-flight query's outcome is ignored. */
  stop(): void;
}

/**
 * Polls pg_stat_archiver on `db` until stopped. A streak of failures starts at the first poll
 * that sees one and ends at any newer success; one longer than `timeoutMs` calls `onStuck`
 * once. A query that fails ends the watch with a log line, never an unhandled rejection.
 */
export function watchArchiver(
  db: Db,
  o: { signal: AbortSignal; timeoutMs: number; archiveCommand: string; onStuck: (err: OperationError) => void; log: (line: string) => void; clock?: Clock; intervalMs?: number },
): ArchiverWatch {
  const clock = o.clock ?? systemClock;
  const interval = o.intervalMs ?? watchIntervalMs(o.timeoutMs);
  const ac = new AbortController();
  // An interrupt closes the connection under the poll: that is no failure to report.
  const ended = AbortSignal.any([ac.signal, o.signal]);
  let failure: OperationError | undefined;
  const loop = async () => {
    let since: number | undefined;
    let success: number | undefined;
    for (;;) {
      await sleep(interval, undefined, { signal: ended });
      const s = await archiverStatus(db);
      if (ended.aborted) return;
      const at = s.lastArchivedTime?.getTime();
      if (!archivingFails(s) || at !== success) since = undefined;
      success = at;
      if (!archivingFails(s)) continue;
      since ??= clock.now();
      const failedFor = clock.now() - since;
      if (failedFor >= o.timeoutMs) {
        failure = new OperationError(
          'postgres.archive',
          `PostgreSQL could not archive WAL segment ${s.lastFailedWal} for ${Math.round(failedFor / 1000)}s (last failure at ${s.lastFailedTime!.toISOString()}), so the base backup cannot complete: pg_basebackup was stopped and nothing was stored. Archiving must work again (see the server log); check archive_command (now: '${o.archiveCommand}')`,
        );
        o.onStuck(failure);
        return;
      }
    }
  };
  loop().catch((err: unknown) => {
    if (ended.aborted) return;
    o.log(`cannot read pg_stat_archiver any more (${err instanceof Error ? err.message : String(err)}): no longer watching WAL archiving during this backup`);
  });
  return {
    get failure() {
      return failure;
    },
    stop: () => ac.abort(),
  };
}
