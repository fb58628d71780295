import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../errors.js';
import type { Db } from './client.js';

// pg_basebackup -X none ends only after pg_backup_stop, and pg_backup_stop waits, without any
// limit, until the backup's last WAL segment is archived: with an archive_command that fails
// (or hangs) the backup never ends. So a base backup does not start while archiving is failing
// (after giving it the archive timeout to recover), and the server's wait for archiving (the
// "waiting for wal archiving to finish" phase) is bounded by the same timeout. Failures while
// the data is streamed are not counted: only that final wait needs archiving, and PostgreSQL
// retries a failed segment only every 60 s, so a blip during a long backup is no reason to stop.
// Messages never quote archive_command: it may carry credentials.

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

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/**
 * Returns once archiving works: at once when it does, else as soon as a success newer than
 * the last failure is recorded. Throws when archiving is still failing after `timeoutMs`.
 */
export async function awaitArchivingWorks(db: Db, o: { timeoutMs: number; signal: AbortSignal; log: (line: string) => void }): Promise<void> {
  let s = await archiverStatus(db);
  if (!archivingFails(s)) return;
  o.log(`WAL archiving is failing (${s.lastFailedWal} at ${s.lastFailedTime!.toISOString()}): waiting up to ${seconds(o.timeoutMs)} for it to recover before the base backup starts`);
  const deadline = performance.now() + o.timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    await sleep(Math.min(1000, left), undefined, { signal: o.signal });
    s = await archiverStatus(db);
    if (!archivingFails(s)) return;
  }
  throw new OperationError(
    'postgres.archive',
    `PostgreSQL is failing to archive WAL: ${s.lastFailedWal} failed at ${s.lastFailedTime!.toISOString()} (${lastSuccess(s)}) and did not recover within ${seconds(o.timeoutMs)}. A base backup cannot complete until archiving works (see the server log, and SHOW archive_command); nothing was stored`,
  );
}

export interface ArchiveWaitWatch {
  /** Set once the server waited for archiving longer than the timeout (and onStuck was called). */
  readonly failure: OperationError | undefined;
  /** Ends the polling at once; an in-flight query's outcome is ignored. */
  stop(): void;
}

/** How often the backup's progress is read. */
const POLL_MS = 1000;

/**
 * Watches the server process of one pg_basebackup (found by its application_name) through
 * pg_stat_progress_basebackup. Once it has been waiting for WAL archiving for `timeoutMs`,
 * that server process is terminated (it would otherwise wait on after its client is gone,
 * holding a WAL sender slot and the backup open) and `onStuck` is called once. A query that
 * fails ends the watch with a log line, never an unhandled rejection.
 */
export function watchArchiveWait(
  db: Db,
  o: { applicationName: string; signal: AbortSignal; timeoutMs: number; onStuck: (err: OperationError) => void; log: (line: string) => void },
): ArchiveWaitWatch {
  const ac = new AbortController();
  // An interrupt closes the connection under the poll: that is no failure to report.
  const ended = AbortSignal.any([ac.signal, o.signal]);
  let failure: OperationError | undefined;
  const loop = async () => {
    let since: number | undefined;
    for (;;) {
      await sleep(POLL_MS, undefined, { signal: ended });
      const [p] = await db.query<{ pid: number; phase: string }>(
        `select p.pid, p.phase from pg_stat_progress_basebackup p join pg_stat_activity a using (pid) where a.application_name = $1`,
        [o.applicationName],
      );
      if (ended.aborted) return;
      if (p?.phase !== 'waiting for wal archiving to finish') {
        since = undefined;
        continue;
      }
      since ??= performance.now();
      const waited = performance.now() - since;
      if (waited < o.timeoutMs) continue;
      const s = await archiverStatus(db);
      failure = new OperationError(
        'postgres.archive',
        archivingFails(s)
          ? `PostgreSQL could not archive WAL segment ${s.lastFailedWal} for ${seconds(waited)} (last failure at ${s.lastFailedTime!.toISOString()}), so the base backup cannot complete: pg_basebackup was stopped and nothing was stored. Archiving must work again (see the server log, and SHOW archive_command)`
          : `PostgreSQL waited ${seconds(waited)} for the base backup's last WAL segment to be archived, with no failure recorded (an archive command that hangs?): pg_basebackup was stopped and nothing was stored. Archiving must work again (see the server log, and SHOW archive_command)`,
      );
      try {
        await db.query('select pg_terminate_backend($1)', [p.pid]);
      } catch (err) {
        o.log(`could not end the server process of the stopped base backup (pid ${p.pid}): ${err instanceof Error ? err.message : String(err)}; it waits until archiving works`);
      }
      o.onStuck(failure);
      return;
    }
  };
  loop().catch((err: unknown) => {
    if (ended.aborted) return;
    o.log(`cannot read pg_stat_progress_basebackup any more (${err instanceof Error ? err.message : String(err)}): no longer watching the wait for WAL archiving`);
  });
  return {
    get failure() {
      return failure;
    },
    stop: () => ac.abort(),
  };
}
