import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DbStats, Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext, TestRestoreOptions } from '../types.js';
import { connect } from './client.js';
import { stopCluster } from './cluster.js';
import { parsePgUrl, quoteIdent, withDatabase } from './conn.js';
import { restoreOwner } from './owner.js';
import { physicalRestore } from './restore-physical.js';
import { dropRoles, logicalRestore } from './restore.js';
import { startScratchCluster } from './scratch-cluster.js';
import { collectStats } from './stats.js';

// verify-backups --test-restore for the two PostgreSQL backup kinds: restore somewhere nobody
// else can reach, read the statistics, remove everything.

// A test restore is a restore into an empty server: the roles the backup holds are created
// first, as in a real recovery onto a new machine, and (on a scratch URL) dropped afterwards.
export async function testRestoreLogical(ctx: ActionContext, repo: Repository, m: Manifest, o: TestRestoreOptions): Promise<DbStats> {
  const scratch = !o.scratch || o.scratch === 'auto' ? await startScratchCluster(ctx.env, ctx.signal) : undefined;
  const server = scratch?.conn ?? parsePgUrl(o.scratch, ctx.env, '--scratch');
  const target = withDatabase(server, `drctl_verify_${randomBytes(4).toString('hex')}`);
  let rolesCreated: string[] = [];
  try {
    const out = await logicalRestore(ctx, repo, m, target, { jobs: 1, clean: false, noOwner: false, roles: true, schema: undefined, table: undefined });
    rolesCreated = Array.isArray(out.rolesCreated) ? out.rolesCreated.map(String) : [];
    const db = await connect(target, { signal: ctx.signal });
    try {
      return await collectStats(db);
    } finally {
      await db.close();
    }
  } finally {
    if (scratch) await scratch.stop();
    else {
      const admin = await connect(withDatabase(server, 'postgres')).catch(() => undefined);
      await admin?.query(`drop database if exists ${quoteIdent(target.database)}`).catch(() => {});
      await admin?.close();
      if (rolesCreated.length) await dropRoles(ctx, server, rolesCreated);
    }
  }
}

/** A base backup restored to its consistent point into a private, throwaway data directory. */
export async function testRestoreBase(ctx: ActionContext, repo: Repository, m: Manifest): Promise<DbStats> {
  // The work directory is the server user's and 0700: a copy of production data inside.
  const work = await mkdtemp(path.join(os.tmpdir(), 'drctl-verify-base-'));
  const own = restoreOwner(work);
  if (own) await chown(work, own.uid, own.gid);
  const dataDir = path.join(work, 'data');
  const sock = path.join(work, 'sock');
  try {
    // A private socket directory and no TCP: the port number cannot clash with anything.
    // A test restore never archives: its new timeline must not reach production's archive.
    await physicalRestore(ctx, repo, { backup: m.id, targetDir: dataDir, start: true, archive: false, startTimeoutMs: 600_000, privateSocketDir: sock, port: 5432, pitr: 'latest', immediate: true });
    const db = await connect({ host: sock, port: 5432, user: 'postgres', database: String(m.source.database ?? 'postgres'), params: {} }, { signal: ctx.signal });
    try {
      return await collectStats(db);
    } finally {
      await db.close();
    }
  } finally {
    // Also after a timeout or an interrupt: the throwaway server always goes.
    await stopCluster({ ...ctx, signal: new AbortController().signal }, dataDir, 'immediate').catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
