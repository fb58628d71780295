import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { ConfirmationError, IntegrityError, OperationError, UsageError } from '../../errors.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import { openRepo } from '../repo-settings.js';
import { progressMeter } from '../progress.js';
import { parseDuration } from '../../time/duration.js';
import { defineAction, type ActionContext, type Outputs } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl, quoteIdent, withDatabase, type PgConn } from './conn.js';
import { createMissingRoles, dropCreatedRoles, loadRoles } from './roles.js';
import { EXACT_COUNT_LIMIT, rowCounts, relationCount, userTables } from './stats.js';
import { spawnTool, toolError } from './tools.js';
import { childStdinSink } from '../../process/run-process.js';

// postgres.restore (logical): the dump streams from the repository through decryption and
// sha256 verification into pg_restore, in one transaction. The verifier holds back the last
// chunk until the checksum matches, so a corrupted backup is rolled back, never half-applied.
// --jobs needs a seekable file: only then is the dump spooled (and verified) to a temp file.
// A partial restore (--schema, --table) has the object checked whole before it starts.

const Names = z.union([z.string(), z.array(z.string())]).optional();

const Input = z.strictObject({
  backup: z.string().default('latest'),
  target: z.string().optional().meta({ description: 'PostgreSQL URL of the database to restore into (created if absent)' }),
  targetDir: z.string().optional().meta({ description: 'Data directory for a physical / PITR restore' }),
  pitr: z.string().optional(),
  repo: z.string().optional(),
  jobs: z.number().int().min(1).max(64).default(1),
  schema: Names,
  table: Names,
  clean: z.boolean().default(false),
  noOwner: z.boolean().default(false),
  roles: z.boolean().default(true).meta({ description: 'logical: create the roles the backup needs that the target server lacks (false: --no-roles)' }),
  timeline: z.number().int().min(1).optional().meta({ description: 'PITR: follow this timeline (default: the newest)' }),
  start: z.boolean().default(false).meta({ description: 'PITR: start the server and wait until it reached the target and promoted' }),
  port: z.number().int().min(1).max(65535).optional().meta({ description: 'PITR: port for the restored server' }),
  archive: z.boolean().optional().meta({ description: 'PITR: false turns archive_mode off on the restored server; default: off in a drill, as configured otherwise' }),
  startTimeout: z.string().default('30m'),
});

export const postgresRestore = defineAction({
  name: 'postgres.restore',
  summary: 'Restore a backup from the repository (logical into a database)',
  input: Input,
  outputs: ['restored', 'backupId', 'recoveryPoint', 'rowCounts', 'estimated', 'created', 'dataDir', 'started', 'timeline', 'target', 'stoppedAt', 'walFiles', 'dataLossMs', 'rolesCreated', 'archiving'],
  describe: (i) =>
    i.targetDir ? `${i.pitr && i.pitr !== 'latest' ? `point-in-time restore to ${i.pitr}` : 'restore to the end of the archived WAL'} from ${i.backup === 'latest' ? 'the right base backup' : i.backup} into ${i.targetDir}` : `restore backup ${i.backup} into ${i.target ? 'the target database' : 'DATABASE_URL'}${i.clean ? ' (clean)' : ''}${i.jobs > 1 ? ` with ${i.jobs} jobs` : ''}`,
  async run(ctx, i) {
    if (i.pitr && !i.targetDir) throw new UsageError('usage.pitr', '--pitr needs --target-dir: point-in-time recovery restores a base backup into a data directory');
    if (i.targetDir) {
      const { physicalRestore } = await import('./restore-physical.js');
      const repo = await openRepo(ctx, i.repo);
      return physicalRestore(ctx, repo, {
        backup: i.backup,
        pitr: i.pitr,
        targetDir: i.targetDir,
        timeline: i.timeline,
        start: i.start,
        port: i.port,
        archive: i.archive,
        startTimeoutMs: parseDuration(i.startTimeout, 'startTimeout'),
      });
    }
    const target = parsePgUrl(i.target, ctx.env, 'target');
    const repo = await openRepo(ctx, i.repo);
    const manifest = await repo.resolve(i.backup, ['logical']);
    return logicalRestore(ctx, repo, manifest, target, i);
  },
});

export type LogicalOptions = Pick<z.output<typeof Input>, 'jobs' | 'schema' | 'table' | 'clean' | 'noOwner' | 'roles'>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export async function logicalRestore(ctx: ActionContext, repo: Repository, m: Manifest, target: PgConn, i: LogicalOptions): Promise<Outputs> {
  const entry = m.objects.find((o) => o.path.split('/').pop() === 'dump.pgc') ?? m.objects[0];
  if (!entry) throw new OperationError('backup.empty', `backup ${m.id} has no objects`);
  // Read (and verified) before anything changes on the target.
  const roles = i.roles ? await loadRoles(repo, m, { signal: ctx.signal }) : undefined;
  if (i.roles && !roles) ctx.log(`backup ${m.id} holds no roles (made before drctl stored them): the roles it uses must already exist on the target`);
  ctx.log(`restoring ${m.id} (${m.source.database ?? '?'} at ${m.recoveryPoint}) into ${describeConn(target)}`);

  // Create the target database if absent; confirm before replacing a non-empty one.
  let created = false;
  let clean = i.clean;
  const admin = await connect(withDatabase(target, target.database === 'postgres' ? 'template1' : 'postgres'), { signal: ctx.signal });
  try {
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [target.database])).length > 0;
    if (!exists) {
      await admin.query(`create database ${quoteIdent(target.database)}`);
      created = true;
      ctx.log(`created database ${target.database}`);
    }
  } finally {
    await admin.close();
  }
  if (!created) {
    const db = await connect(target, { signal: ctx.signal });
    let n: number;
    try {
      n = await relationCount(db);
    } finally {
      await db.close();
    }
    if (n > 0) {
      const ok = await ctx.confirm(`Database ${describeConn(target)} is not empty (${n} relations). Replace its contents with backup ${m.id}?`);
      if (!ok) throw new ConfirmationError('confirm.declined', `declined: ${describeConn(target)} left untouched`);
      clean = true;
    }
  }

  const args = ['--no-password', '-d', target.database, '--exit-on-error'];
  if (clean) args.push('--clean', '--if-exists');
  if (i.noOwner) args.push('--no-owner');
  for (const s of list(i.schema)) args.push(`--schema=${s}`);
  for (const t of list(i.table)) args.push(`--table=${t}`);

  let spool: string | undefined;
  let rolesCreated: string[] = [];
  try {
    // Inside the try: a database this restore created is dropped when the roles cannot be made.
    if (roles) {
      const admin = await connect(withDatabase(target, 'postgres'), { signal: ctx.signal });
      try {
        const r = await createMissingRoles(ctx, admin, roles);
        rolesCreated = r.created;
        ctx.log(r.created.length ? `created role(s): ${r.created.join(', ')}` : 'every role the backup needs exists on the target');
        if (r.existing.length && r.created.length) ctx.log(`left as they are: ${r.existing.join(', ')}`);
        if (r.withoutPassword.length) ctx.log(`warning: created without a password (the backup holds no hashes): ${r.withoutPassword.join(', ')}; set them with ALTER ROLE ... PASSWORD`);
      } finally {
        await admin.close();
      }
    }

    if (i.jobs > 1) {
      spool = await mkdtemp(path.join(os.tmpdir(), 'drctl-restore-'));
      const file = path.join(spool, 'dump.pgc');
      await pipeline(await repo.readObject(m, entry, { signal: ctx.signal }), createWriteStream(file, { mode: 0o600 }), { signal: ctx.signal });
      const r = await (await spawnTool('pg_restore', [...args, `--jobs=${i.jobs}`, file], { env: ctx.env, conn: target, signal: ctx.signal, stdout: 'ignore' })).done;
      if (r.exitCode !== 0) throw toolError('pg_restore', r);
    } else {
      // The held-back last chunk keeps pg_restore from committing a damaged dump only when it
      // reads the dump to its end. With --schema or --table it stops once it has what it
      // needs, and commits: then the whole object is checked first (read twice, not spooled).
      if (list(i.schema).length || list(i.table).length) {
        ctx.log(`checking ${entry.path} whole before a partial restore reads it`);
        await repo.verifyObject(m, entry, { signal: ctx.signal });
      }
      const proc = await spawnTool('pg_restore', [...args, '--single-transaction'], { env: ctx.env, conn: target, signal: ctx.signal, stdin: 'pipe', stdout: 'ignore' });
      const source = await repo.readObject(m, entry, { signal: ctx.signal });
      try {
        await pipeline(source, progressMeter(ctx, entry.size), childStdinSink(proc.stdin as NodeJS.WritableStream));
      } catch (err) {
        if (err instanceof IntegrityError || ctx.signal.aborted) {
          // Bad data: stop pg_restore before it can commit anything.
          proc.kill();
          await proc.done;
          throw err;
        }
        // pg_restore stopped reading (it failed): its own message says why.
        const r = await proc.done;
        if (r.exitCode !== 0) throw toolError('pg_restore', r);
        throw err;
      }
      const r = await proc.done;
      if (r.exitCode !== 0) throw toolError('pg_restore', r);
    }
  } catch (err) {
    if (created) await dropDatabase(ctx, target);
    if (rolesCreated.length) await dropRoles(ctx, target, rolesCreated);
    throw err;
  } finally {
    if (spool) await rm(spool, { recursive: true, force: true });
  }

  // pg_restore leaves the planner without statistics; ANALYZE gives them back (as pg_restore's
  // documentation advises) and gives large tables' row counts without counting every row.
  const db = await connect(target, { signal: ctx.signal });
  let counts: { schema: string; name: string; rows: number; estimated?: boolean }[];
  try {
    await db.query('analyze');
    counts = await rowCounts(db, await userTables(db), EXACT_COUNT_LIMIT);
  } finally {
    await db.close();
  }
  const byName: Record<string, number> = {};
  const estimated: string[] = [];
  for (const t of counts) {
    const name = t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
    byName[name] = t.rows;
    if (t.estimated) estimated.push(name);
  }
  for (const [name, rows] of Object.entries(byName)) ctx.log(`${name}: ${estimated.includes(name) ? '~' : ''}${rows} rows`);
  return { restored: true, backupId: m.id, recoveryPoint: m.recoveryPoint, rowCounts: byName, estimated, created, rolesCreated };
}

/** Removes the roles a failed or throwaway restore created; roles that existed are never touched. */
export async function dropRoles(ctx: ActionContext, target: PgConn, names: string[]): Promise<void> {
  try {
    const admin = await connect(withDatabase(target, 'postgres'));
    try {
      await dropCreatedRoles(admin, names);
      ctx.log(`dropped the role(s) this restore created: ${names.join(', ')}`);
    } finally {
      await admin.close();
    }
  } catch {
    // best effort, as for the database
  }
}

async function dropDatabase(ctx: ActionContext, target: PgConn): Promise<void> {
  try {
    const admin = await connect(withDatabase(target, 'postgres'));
    try {
      await admin.query(`drop database if exists ${quoteIdent(target.database)}`);
      ctx.log(`dropped the partly restored database ${target.database}`);
    } finally {
      await admin.close();
    }
  } catch {
    // best effort: the restore error is what matters
  }
}
