import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.js';
import { parseLsn, segmentForLsn } from '../../pitr/wal-names.js';
import { parseBackupLabel, parseManifestWalRange, TarPeek } from '../../pitr/tar-peek.js';
import { createGzip } from 'node:zlib';
import { crashPoint } from '../../testing-faults.js';
import { openRepo } from '../repo-settings.js';
import { waitForArchived } from './archive-wait.js';
import type { ActionContext, Outputs } from '../types.js';
import { connect } from './client.js';
import { describeConn, type PgConn } from './conn.js';
import { collectStats, sourceInfo } from './stats.js';
import { storeToolOutput } from './store-output.js';
import { spawnTool } from './tools.js';
import { lockWaitMs } from '../../repository/lock.js';

// postgres.backup type base: pg_basebackup's tar stream (gzip level 1 on the client) flows
// into the repository. The manifest records start/stop LSN, timeline and WAL range, and is
// written only once the last WAL segment the backup needs is in this repository's archive:
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
      const proc = await spawnTool('pg_basebackup', ['-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '--no-password'], { env: ctx.env, conn, signal: ctx.signal });
      // The tar passes through a peek at backup_label and backup_manifest (LSNs, timeline),
      // then gzip level 1: data files compress well, and level 1 keeps up with the disk.
      const peek = new TarPeek(new Set(['backup_label', 'backup_manifest']));
      const gzip = createGzip({ level: 1 });
      const tarOut = proc.stdout as Readable;
      tarOut.on('error', (e) => peek.destroy(e));
      peek.on('error', (e) => gzip.destroy(e));
      tarOut.pipe(peek).pipe(gzip);
      const entry = await storeToolOutput(ctx, repo, {
        backupId: id,
        name: 'base.tar.gz',
        tool: 'pg_basebackup',
        child: proc,
        body: gzip,
        total: Number(source.databaseSize) || undefined,
        // Already gzip: compressing it again would cost CPU and save nothing.
        compression: { codec: 'none', level: 0 },
      });
      const label = parseBackupLabel(peek.files.get('backup_label')?.toString('utf8') ?? '');
      const range = parseManifestWalRange(peek.files.get('backup_manifest')?.toString('utf8') ?? '');
      if (!label || !range) throw new OperationError('postgres.basebackup', 'the base backup has no backup_label or backup_manifest with its WAL range');
      const start = { lsn: label.startLsn, tli: label.timeline };
      const stop = range.endLsn;
      const walStart = segmentForLsn(parseLsn(start.lsn), start.tli, segSize);
      const walStop = segmentForLsn(parseLsn(stop), start.tli, segSize);
      ctx.log(`backup ${id}: WAL ${walStart} .. ${walStop}; waiting for ${walStop} in the archive`);
      await waitForArchived(ctx, repo, walStop, archiveTimeoutMs, s.ac);
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
        objects: [entry],
        stats,
        pg: { startLsn: start.lsn, stopLsn: stop, timeline: start.tli, walStart, walStop },
        extra: { format: 'tar', compression: 'gzip', walSegmentSize: segSize },
      });
      ctx.log(`backup ${id}: ${entry.size} bytes stored, manifest written`);
      return { backupId: id, bytes: manifest.size, storedBytes: manifest.storedSize, recoveryPoint: manifest.recoveryPoint };
    } finally {
      await release();
    }
  } finally {
    await db.close();
  }
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
