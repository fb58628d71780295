import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { crashPoint } from '../../testing-faults.js';
import { parseDuration } from '../../time/duration.js';
import { findZstd, parseCompression, zstdArgs, type Compression } from '../../repository/compress.js';
import { makeFifo, openWriteEnd } from '../../process/fifo.js';
import { openRepo } from '../repo-settings.js';
import { defineAction, type ActionContext, type Outputs } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl, type PgConn } from './conn.js';
import { readRoles, ROLES_OBJECT, rolesBody } from './roles.js';
import { collectStats, sourceInfo } from './stats.js';
import { compressorError, storeToolOutput } from './store-output.js';
import { spawnTool } from './tools.js';
import { lockWaitMs } from '../../repository/lock.js';
import { spawnProcess, type Spawned } from '../../process/run-process.js';

// postgres.backup: pg_dump -Fc -Z0 streamed into the repository through sha256, the
// repository's compressor (zstd by default: faster than pg_dump's own zlib) and encryption,
// never buffered whole nor spooled to disk. With zstd and the system `zstd` binary installed,
// pg_dump writes straight into a `zstd` process (through a FIFO: fifo.ts): the raw dump (~35x
// what is stored) never passes through Node, whose CPU for it (more than pg_dump's own zlib)
// was what made the backup slower than pg_dump alone on two cores; the plaintext's sha256
// comes from decoding the compressed stream (zstd-digest.ts). pg_dump runs in a snapshot
// exported by a REPEATABLE READ transaction, so the row counts recorded for verification
// describe exactly the data in the dump. The manifest is written only after pg_dump exited 0
// and every byte was stored. The roles the database needs are stored beside the dump (roles.ts).

const Input = z.strictObject({
  source: z.string().optional().meta({ description: 'PostgreSQL URL (default: DATABASE_URL)' }),
  repo: z.string().optional().meta({ description: 'Repository URL (default: config repo / DRCTL_REPO)' }),
  type: z.enum(['logical', 'base']).default('logical'),
  label: z.string().optional(),
  archiveTimeout: z.string().default('60s').meta({ description: 'base: how long WAL archiving may fail while pg_basebackup runs, and how long to wait for the last WAL segment to be archived' }),
  compress: z.string().optional().meta({ description: 'zstd, gzip or none (default: config compress, else zstd)' }),
  compressLevel: z.union([z.string(), z.number()]).optional().meta({ description: "compression level (default: the codec's)" }),
});

export const postgresBackup = defineAction({
  name: 'postgres.backup',
  summary: 'Back up PostgreSQL into the repository (logical: pg_dump; base: pg_basebackup)',
  input: Input,
  outputs: ['backupId', 'bytes', 'storedBytes', 'recoveryPoint'],
  describe: (i) => `${i.type} backup of ${i.source ? 'the source database' : 'DATABASE_URL'} into ${i.repo ?? 'the configured repository'}${i.label ? ` labelled "${i.label}"` : ''}`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.source ?? ctx.env.DATABASE_URL, ctx.env, 'source');
    if (i.type === 'base') {
      const { baseBackup } = await import('./base-backup.js');
      return baseBackup(ctx, conn, i.repo, i.label, parseDuration(i.archiveTimeout, 'archiveTimeout'));
    }
    const compression = i.compress || i.compressLevel ? parseCompression(i.compress || (ctx.config.compress as string | undefined), i.compressLevel || undefined) : undefined;
    return logicalBackup(ctx, conn, i.repo, i.label, compression);
  },
});

async function logicalBackup(ctx: ActionContext, conn: PgConn, repoUrl: string | undefined, label: string | undefined, compression: Compression | undefined): Promise<Outputs> {
  const db = await connect(conn, { signal: ctx.signal });
  try {
    const repo = await openRepo(ctx, repoUrl, { create: true });
    const release = await repo.lock('backup', { waitMs: await lockWaitMs(ctx.env), log: (l) => ctx.log(l) });
    try {
      await db.query('begin isolation level repeatable read, read only');
      const [snap] = await db.query<{ snapshot: string; now: Date }>('select pg_export_snapshot() as snapshot, now() as now');
      if (!snap) throw new OperationError('postgres.snapshot', 'could not export a snapshot');
      const source = await sourceInfo(db, conn);
      const id = await repo.newBackupId('logical');
      const startedAt = new Date();
      ctx.log(`backup ${id}: pg_dump of ${describeConn(conn)} into ${repo.storage.location}`);
      const packing = compression ?? repo.compression;
      const { packer, dump } = await startDump(ctx, conn, snap.snapshot, packing);
      // Row counts, functions and policies are read in the same snapshot while pg_dump runs:
      // they describe exactly the dumped data and cost no extra wall time.
      const statsRead = collectStats(db);
      statsRead.catch(() => {});
      const entry = await storeToolOutput(ctx, repo, {
        backupId: id,
        name: 'dump.pgc',
        tool: 'pg_dump',
        child: dump,
        body: (packer?.child ?? dump).stdout as Readable,
        total: Number(source.databaseSize) || undefined,
        compression: packing,
        compressor: packer,
        onBytes: (bytes) => {
          if (bytes > 1024 * 1024) crashPoint('backup-during-upload');
        },
      }).catch(async (err: unknown) => {
        // A failed stats query (a table the user may not read) aborts the transaction that
        // exported the snapshot, and pg_dump then fails with "could not import the requested
        // snapshot": the query's error is the cause.
        if (err instanceof Error && /could not import the requested snapshot/.test(err.message)) throw (await statsRead.then(() => undefined, (e: unknown) => e)) ?? err;
        throw err;
      });
      if (entry.size === 0) throw new OperationError('postgres.backup', 'pg_dump produced no output');
      const stats = await statsRead;
      // The roles the database needs, from the same snapshot: a fresh cluster has none of them.
      const roles = await readRoles(db);
      await db.query('commit');
      const rolesEntry = await repo.writeObject(id, ROLES_OBJECT, rolesBody(roles), { signal: ctx.signal });
      const rolesNote = roles.passwords
        ? undefined
        : `password hashes not stored: ${conn.user ?? 'the backup user'} cannot read pg_authid (a superuser can); the ${roles.roles.length} role(s) restore without passwords`;
      if (rolesNote) ctx.log(`warning: ${rolesNote}`);
      crashPoint('backup-before-manifest');
      const stoppedAt = new Date();
      const manifest = await repo.commit({
        id,
        kind: 'logical',
        label,
        source,
        startedAt: startedAt.toISOString(),
        stoppedAt: stoppedAt.toISOString(),
        durationMs: stoppedAt.getTime() - startedAt.getTime(),
        recoveryPoint: new Date(snap.now).toISOString(),
        objects: [entry, rolesEntry],
        stats,
        extra: { format: 'pg_dump custom', roles: { count: roles.roles.length, passwords: roles.passwords, ...(rolesNote ? { note: rolesNote } : {}) } },
      });
      ctx.log(`backup ${id}: ${entry.size} bytes, sha256 ${entry.sha256.slice(0, 12)}…, manifest written`);
      return { backupId: id, bytes: manifest.size, storedBytes: manifest.storedSize, recoveryPoint: manifest.recoveryPoint };
    } finally {
      await release();
    }
  } finally {
    await db.close();
  }
}

type Packer = { name: string; child: Spawned };

/**
 * pg_dump, writing into a `zstd` process when the codec is zstd and the binary is installed
 * (through a FIFO where `mkfifo` is on PATH, else a stdio pipe), else into Node (which then
 * compresses in process, zstd-napi or zlib).
 */
async function startDump(ctx: ActionContext, conn: PgConn, snapshot: string, packing: Compression): Promise<{ packer?: Packer; dump: Spawned }> {
  const args = ['-Fc', '-Z0', '--no-password', `--snapshot=${snapshot}`, '-d', conn.database];
  const bin = packing.codec === 'zstd' ? await findZstd(ctx.env) : undefined;
  if (!bin) return { dump: await spawnTool('pg_dump', args, { env: ctx.env, conn, signal: ctx.signal, stdout: 'pipe' }) };
  const fifo = await makeFifo(ctx.env, ctx.signal);
  let packer: Packer | undefined;
  let writeEnd: FileHandle | undefined;
  try {
    packer = await startZstd(ctx, bin, packing.level, fifo?.path);
    if (fifo) {
      writeEnd = await openWriteEnd(fifo.path, packer.child.done);
      if (!writeEnd) {
        const r = await packer.child.done;
        // An older zstd that takes only regular files as input: its stdin then.
        if (!/not a regular file/.test(r.stderr)) throw compressorError(packer.name, r);
        packer = await startZstd(ctx, bin, packing.level, undefined);
      }
    }
    const dump = await spawnTool('pg_dump', args, { env: ctx.env, conn, signal: ctx.signal, stdout: writeEnd?.fd ?? packer.child.stdin });
    return { packer, dump };
  } catch (err) {
    packer?.child.kill();
    throw err;
  } finally {
    try {
      // pg_dump holds the write end now: the compressor sees its end when pg_dump exits.
      await writeEnd?.close();
      (packer?.child.stdin as Writable | undefined)?.destroy();
    } finally {
      await fifo?.remove();
    }
  }
}

/** A `zstd` process compressing `input` (a FIFO's path), or its stdin, to its stdout. */
async function startZstd(ctx: ActionContext, bin: string, level: number, input: string | undefined): Promise<Packer> {
  const child = await spawnProcess(bin, input ? [...zstdArgs(level), '--', input] : zstdArgs(level), {
    signal: ctx.signal,
    // Only what it needs to run: ZSTD_* variables of the caller do not reach it.
    env: { PATH: ctx.env.PATH, HOME: ctx.env.HOME, LANG: ctx.env.LANG ?? 'C.UTF-8' },
    stdin: input ? 'ignore' : 'pipe',
  });
  return { name: 'zstd', child };
}
