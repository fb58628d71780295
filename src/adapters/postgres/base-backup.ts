import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.js';
import { parseLsn, segmentForLsn } from '../../pitr/wal-names.js';
import { parseBackupLabel, parseManifestWalRange, TarPeek } from '../../pitr/tar-peek.js';
import { crashPoint } from '../../testing-faults.js';
import { openRepo } from '../repo-settings.js';
import { waitForArchived } from './archive-wait.js';
import { awaitArchivingWorks, watchArchiveWait } from './archiver-watch.js';
import type { ActionContext, Outputs } from '../types.js';
import { connect } from './client.js';
import { describeConn, type PgConn } from './conn.js';
import { collectStats, sourceInfo } from './stats.js';
import { spawnTool, toolError } from './tools.js';
import { findZstd } from '../../repository/compress.js';
import { zstdCompress, type CompressStage } from './zstd-tool.js';
import { TarSplit } from '../../pitr/tar-split.js';
import type { ObjectEntry } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { Spawned } from '../../process/run-process.js';
import os from 'node:os';
import { lockWaitMs } from '../../repository/lock.js';

// postgres.backup type base: pg_basebackup's tar stream flows into the repository as N
// zstd-compressed tar parts (base.<i>.tar.zst). The manifest records start/stop LSN, timeline
// and WAL range, and is written only once the last WAL segment the backup needs is in this repository's archive:
// a base backup without its WAL cannot be restored, so it must not be listed.


export async function baseBackup(ctx: ActionContext, conn: PgConn, repoUrl: string | undefined, backupLabel: string | undefined, archiveTimeoutMs: number): Promise<Outputs> {
  const db = await connect(conn, { signal: ctx.signal });
  try {
    const [s] = await db.query<{ am: string; ac: string; seg: string; rec: boolean }>(
      `select current_setting('archive_mode') as am, current_setting('archive_command') as ac,
              (select setting from pg_settings where name = 'wal_segment_size') as seg, pg_is_in_recovery() as rec`,
    );
    if (!s || s.am === 'off') {
      throw new OperationError(
        'postgres.archive',
        `${describeConn(conn)}: archive_mode is off. A base backup needs WAL archiving: set archive_mode = on and archive_command = 'drctl wal-push %p' (with DRCTL_REPO set to this repository), then restart PostgreSQL`,
      );
    }
    // Before the repository is even opened: with archiving failing, pg_basebackup would stream
    // everything and then wait at its end. A standby waits for its archiver only with
    // archive_mode = always (otherwise it has none, and pg_stat_archiver may hold stale
    // failures from before it was one).
    if (!s.rec || s.am === 'always') await awaitArchivingWorks(db, { timeoutMs: archiveTimeoutMs, signal: ctx.signal, log: (l) => ctx.log(l) });
    const segSize = Number(s.seg);
    const repo = await openRepo(ctx, repoUrl, { create: true });
    const release = await repo.lock('backup', { waitMs: await lockWaitMs(ctx.env), log: (l) => ctx.log(l) });
    try {
      const source: Record<string, string | number> = { ...(await sourceInfo(db, conn)), walSegmentSize: segSize };
      const stats = await collectStats(db);
      await warnLeftoverCredentials(ctx, db);
      const id = await repo.newBackupId('base');
      const startedAt = new Date();
      ctx.log(`backup ${id}: pg_basebackup of ${describeConn(conn)} into ${repo.storage.location}`);
      // Named, so that its server process can be found in pg_stat_progress_basebackup.
      const applicationName = `drctl-${id}`;
      const proc = await spawnTool('pg_basebackup', ['-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '--no-password'], {
        env: ctx.env,
        conn: { ...conn, params: { ...conn.params, application_name: applicationName } },
        signal: ctx.signal,
      });
      // The tar passes through a peek at backup_label and backup_manifest (LSNs, timeline),
      // then is split at member boundaries into parts, each compressed by its own zstd
      // process and stored as its own object: a restore extracts the parts in parallel.
      const peek = new TarPeek(new Set(['backup_label', 'backup_manifest']));
      const split = new TarSplit(baseBackupParts());
      const tarOut = proc.stdout as Readable;
      tarOut.on('error', (e) => peek.destroy(e));
      peek.on('error', (e) => split.destroy(e));
      tarOut.pipe(peek).pipe(split);
      // Killing pg_basebackup takes the ordinary failure path (parts removed, compressors
      // stopped); the archiving failure, not the cut tar, is what the user must hear about.
      const watch = watchArchiveWait(db, { applicationName, signal: ctx.signal, timeoutMs: archiveTimeoutMs, onStuck: () => proc.kill(), log: (l) => ctx.log(`backup ${id}: ${l}`) });
      let objects: ObjectEntry[];
      try {
        objects = await storeParts(ctx, repo, id, proc, split, Number(source.databaseSize) || undefined);
      } catch (err) {
        throw !ctx.signal.aborted && watch.failure ? watch.failure : err;
      } finally {
        watch.stop();
      }
      let start: { lsn: string; tli: number };
      let stop: string;
      let walStart: string;
      let walStop: string;
      try {
        const label = parseBackupLabel(peek.files.get('backup_label')?.toString('utf8') ?? '');
        const range = parseManifestWalRange(peek.files.get('backup_manifest')?.toString('utf8') ?? '');
        if (!label || !range) throw new OperationError('postgres.basebackup', 'the base backup has no backup_label or backup_manifest with its WAL range');
        start = { lsn: label.startLsn, tli: label.timeline };
        stop = range.endLsn;
        walStart = segmentForLsn(parseLsn(start.lsn), start.tli, segSize);
        walStop = segmentForLsn(parseLsn(stop), start.tli, segSize);
        ctx.log(`backup ${id}: WAL ${walStart} .. ${walStop}; waiting for ${walStop} in the archive`);
        await waitForArchived(ctx, repo, walStop, archiveTimeoutMs, s.ac);
      } catch (err) {
        // Never listed without a manifest, the parts would only take space until a prune.
        await removeParts(repo, id, objects.map((o) => o.path.replace(/^data\//, '')));
        throw err;
      }
      crashPoint('backup-before-manifest');
      const stoppedAt = new Date();
      const manifest = await repo.commit({
        id,
        kind: 'base',
        label: backupLabel,
        source,
        startedAt: startedAt.toISOString(),
        stoppedAt: stoppedAt.toISOString(),
        durationMs: stoppedAt.getTime() - startedAt.getTime(),
        recoveryPoint: stoppedAt.toISOString(),
        objects,
        stats,
        pg: { startLsn: start.lsn, stopLsn: stop, timeline: start.tli, walStart, walStop },
        extra: { format: 'tar', compression: 'zstd', parts: objects.length, walSegmentSize: segSize },
      });
      ctx.log(`backup ${id}: ${manifest.storedSize} bytes stored in ${objects.length} parts, manifest written`);
      return { backupId: id, bytes: manifest.size, storedBytes: manifest.storedSize, recoveryPoint: manifest.recoveryPoint };
    } finally {
      await release();
    }
  } finally {
    await db.close();
  }
}

/** Parts per base backup: one per core a restore is likely to have, at least 2, at most 4. */
function baseBackupParts(): number {
  return Math.min(4, Math.max(2, os.availableParallelism()));
}

/** zstd level of base backup parts: the repository default's level 3 balances speed and size. */
const PART_LEVEL = 3;

/**
 * Compresses and stores every part concurrently. The parts only count once pg_basebackup and
 * every compressor exited 0: on any failure the others are stopped and what was stored removed.
 */
export async function storeParts(ctx: ActionContext, repo: Repository, id: string, proc: Spawned, split: TarSplit, total: number | undefined): Promise<ObjectEntry[]> {
  // The splitter's own error (a tar it refuses) reaches every part, and a part's reader reports
  // it; a part whose compressor never started has none. Listened to before the first await:
  // pg_basebackup may already have ended.
  for (const s of [split, ...split.parts]) s.on('error', () => {});
  const zstdBin = await findZstd(ctx.env);
  if (!zstdBin) ctx.log('no zstd binary on PATH: base backup parts are compressed in-process (slower); install zstd');
  const stages: CompressStage[] = [];
  const read = split.parts.map(() => 0);
  const names = split.parts.map((_, i) => `base.${i}.tar.zst`);
  let stopped = false;
  let first: { reason: unknown } | undefined;
  // A failed part stops everything at once: the splitter would otherwise wait on it for ever.
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    proc.kill();
    // With an error: a splitter destroyed without one leaves its parts to end on their own.
    split.destroy(new Error('base backup stopped: another part failed'));
    for (const s of stages) s.kill();
  };
  const stored = await Promise.allSettled(
    split.parts.map(async (part, i) => {
      const stage = await zstdCompress(ctx, part, PART_LEVEL, zstdBin);
      stages.push(stage);
      // Started while stopAll ran: nothing else would stop it.
      if (stopped) stage.kill();
      const entry = await repo.writeObject(id, names[i]!, stage.output, {
        signal: ctx.signal,
        // Already zstd: the repository stores the part as it is, its sha256 over these bytes.
        compression: { codec: 'none', level: 0 },
        onBytes: () => {
          read[i] = split.loads[i]!;
          ctx.progress({ bytes: read.reduce((a, b) => a + b, 0), total });
        },
      });
      await stage.done;
      return entry;
    }).map((p) => p.catch((err: unknown) => {
      first ??= { reason: err };
      stopAll();
      throw err;
    })),
  );
  // The first part to fail is the cause; the others failed because stopAll stopped them.
  const failed = first;
  const result = await proc.done;
  if (failed || result.exitCode !== 0) {
    await removeParts(repo, id, names);
    // An interrupt or timeout killed pg_basebackup (SIGTERM) and everything after it: that is the cause.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // pg_basebackup failing by itself (a cut tar follows from it) is the cause; killed (by
    // stopAll, SIGKILL), the failed part is.
    if (result.exitCode !== 0 && result.signal !== 'SIGKILL') throw toolError('pg_basebackup', result);
    throw failed?.reason;
  }
  return stored.map((r) => (r as PromiseFulfilledResult<ObjectEntry>).value);
}

/** Removes stored parts of a backup that will not be committed (best effort: a prune catches the rest). */
async function removeParts(repo: Repository, id: string, names: string[]): Promise<void> {
  for (const n of names) await repo.storage.remove(`backups/${id}/data/${n}`).catch(() => {});
}

/**
 * drctl restores before this version kept restore_command's credentials in
 * drctl_wal_spool/drctl.env inside the data directory, where every base backup copies them.
 * Only a superuser (or pg_read_server_files) may look; others are not warned.
 */
async function warnLeftoverCredentials(ctx: ActionContext, db: Awaited<ReturnType<typeof connect>>): Promise<void> {
  try {
    const [r] = await db.query<{ found: boolean }>(`select (pg_stat_file('drctl_wal_spool/drctl.env', true)).size is not null as found`);
    if (r?.found) ctx.log(`warning: drctl_wal_spool/drctl.env in the data directory, left by an earlier drctl restore, holds repository credentials and is copied into this backup: remove drctl_wal_spool`);
  } catch {
    // not allowed to look
  }
}
