import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { appendFile, chmod, lchown, mkdir, mkdtemp, open, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { childStdinSink, runProcess, spawnProcess } from '../../process/run-process.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import { fetchWal, listWal, recoveryTimeline, type WalObject } from '../../pitr/wal-archive.js';
import { planWal, selectBaseBackup, type RecoveryTarget, type WalPlan } from '../../pitr/select.js';
import { DEFAULT_SEGMENT_SIZE, parseLsn, segmentForLsn, segmentNumber } from '../../pitr/wal-names.js';
import { parseTimePoint, toPostgresTime } from '../../time/time-point.js';
import { formatDuration } from '../../time/duration.js';
import type { ActionContext, Outputs } from '../types.js';
import { toolPath } from './tools.js';
import { progressMeter } from '../progress.js';

// Physical restore and point-in-time recovery into a data directory. Everything that can
// refuse, refuses before the directory is touched: backup selection, WAL continuity, coverage
// of the target. The needed WAL is fetched in parallel and verified into a spool inside the
// data directory before the server starts; restore_command moves spooled files with a plain
// `mv` (no process start per segment) and falls back to drctl wal-fetch. With start, success
// is what the server says: promoted, and "recovery stopping before/after ..." at the target.
// As root, nothing from the tar decides ownership or setuid bits, no chown follows a symlink,
// and the credentials restore_command needs live outside the data directory, where the next
// base backup cannot copy them.

export interface PhysicalInput {
  backup: string;
  pitr?: string;
  targetDir: string;
  repo?: string;
  timeline?: number;
  start: boolean;
  port?: number;
  /** False: archive_mode off on the restored server. Default: off in a drill, else as configured. */
  archive?: boolean;
  startTimeoutMs: number;
  /**
   * Test restores: listen only on a socket in this directory (made 0700, the server user's),
   * and let in only drctl's own OS user, by peer authentication, as the postgres role.
   */
  privateSocketDir?: string;
  /** Stop as soon as the base backup is consistent (recovery_target = 'immediate'). */
  immediate?: boolean;
}

const SPOOL = 'drctl_wal_spool';
const LOG = 'drctl-recovery.log';
const PREFETCH = 4;

interface Owner {
  uid: number;
  gid: number;
}

/** Who owns a restored data directory's files: lstat, so a symlink planted there proves nothing. */
function owner(file: string): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const s = lstatSync(file);
  return { uid: s.uid, gid: s.gid };
}

/**
 * As root, the user the restored server runs as: the owner of the target directory or of its
 * parent when that is not root, else the postgres user. Never the uid recorded in the tar,
 * which names a user of another machine.
 */
export function restoreOwner(dir: string): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const d of [dir, path.dirname(dir)]) {
    try {
      const s = lstatSync(d);
      if (s.isDirectory() && s.uid !== 0) return { uid: s.uid, gid: s.gid };
    } catch {
      // absent: try the next
    }
  }
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
  }
  throw new UsageError(`--target-dir ${dir}: running as root, and neither the directory, its parent nor a postgres user names the user the server should run as; create the directory owned by that user`, 'usage.targetDir');
}

export async function physicalRestore(ctx: ActionContext, repo: Repository, i: PhysicalInput): Promise<Outputs> {
  // A symlinked target is followed once, here, so every later lchown acts on the real directory.
  const targetDir = existsSync(i.targetDir) ? await realpath(i.targetDir) : path.resolve(i.targetDir);
  // A drill (or a test restore) must never archive its new timeline into production's archive.
  const drill = ctx.kind === 'drill';
  if (drill && i.archive === true) ctx.log('a drill never archives: archive: true is ignored, archive_mode is off on the restored server');
  const archive = drill ? false : (i.archive ?? true);
  const target: RecoveryTarget = !i.pitr || i.pitr === 'latest' ? 'latest' : parseTimePoint(i.pitr, '--pitr', ctx.runStartedAt);
  ctx.log(target === 'latest' ? 'recovery target: the end of the archived WAL' : `recovery target: ${target.toISOString()} (UTC)`);

  // 1. Plan, touching nothing.
  const [cat, wal] = await Promise.all([repo.catalog(), listWal(repo)]);
  const { timeline, anc } = await recoveryTimeline(repo, wal, { requested: i.timeline, fallback: 1, signal: ctx.signal });
  let backup: Manifest;
  if (i.backup === 'latest') backup = selectBaseBackup(cat.backups, target, timeline, anc);
  else {
    backup = await repo.resolve(i.backup, ['base']);
    if (target !== 'latest' && Date.parse(backup.stoppedAt) > target.getTime()) {
      throw new OperationError('pitr.tooEarly', `backup ${backup.id} ended at ${backup.stoppedAt}, after the target ${target.toISOString()}: it cannot be used to recover to that point`);
    }
  }
  const segSize = Number(backup.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE);
  const plan = planWal(backup, target, wal, timeline, anc, segSize);
  ctx.log(`base backup ${backup.id} (ended ${backup.stoppedAt}, timeline ${backup.pg?.timeline}); ${plan.files.length} WAL file(s) up to ${plan.lastSegment.name} (archived ${plan.lastSegment.mtime.toISOString()})`);

  // 2. The target directory: absent or empty, or replaced after confirmation.
  const own = restoreOwner(targetDir);
  await prepareTargetDir(ctx, targetDir);

  // 3. Base backup, verified, then the WAL, verified, into the spool.
  let secretsDir: string | undefined;
  let archiving: string;
  try {
    await extract(ctx, repo, backup, targetDir);
    const spool = path.join(targetDir, SPOOL);
    await mkdir(spool, { recursive: true, mode: 0o700 });
    await prefetch(ctx, repo, plan.files, spool);
    secretsDir = await credentialsDir(targetDir);
    await writeRecoveryConfig(ctx, repo, targetDir, spool, secretsDir, target, { ...i, archive }, plan);
    if (own) {
      await chownTree(targetDir, own.uid, own.gid);
      await chownTree(secretsDir, own.uid, own.gid);
      if (i.privateSocketDir) await lchown(i.privateSocketDir, own.uid, own.gid);
    }
    await chmod(targetDir, 0o700);
    archiving = archive ? await archivingAsConfigured(ctx, targetDir, own) : 'off';
  } catch (err) {
    await rm(targetDir, { recursive: true, force: true }).catch(() => {});
    if (secretsDir) await rm(secretsDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  if (archiving === 'off') ctx.log(`archiving: off${drill ? ' (a drill)' : ''}: the restored server's new timeline is not archived into ${repo.storage.location}`);
  else ctx.log(`archiving: as configured in the restored data directory (${archiving}): its new timeline will be archived there — a real recovery; pass --no-archive (archive: false) for a scratch copy`);

  const base = { backupId: backup.id, dataDir: targetDir, target: target === 'latest' ? 'latest' : target.toISOString(), walFiles: plan.files.length, archiving };
  if (!i.start) {
    ctx.log(`prepared ${targetDir}; start it with: pg_ctl -D ${targetDir} start (recovery then runs to the target and promotes)`);
    ctx.log(`${secretsDir} holds the repository credentials restore_command uses: remove it once the server has promoted`);
    return { ...base, restored: false, started: false, recoveryPoint: '' };
  }
  let outcome: Outcome;
  try {
    outcome = await startAndWatch(ctx, targetDir, i.startTimeoutMs);
  } catch (err) {
    // Still replaying (timeout, interrupt): restore_command may yet need the credentials.
    ctx.log(`${secretsDir} holds the repository credentials restore_command uses: remove it once the server has promoted`);
    throw err;
  }
  // Promoted or stopped, recovery no longer needs the credentials.
  await rm(secretsDir, { recursive: true, force: true });
  checkOutcome(outcome, i.immediate ? 'immediate' : target, plan, segSize);
  await rm(path.join(targetDir, SPOOL), { recursive: true, force: true });
  // With no transaction replayed, the data is complete up to the newest WAL replayed (or, when
  // stopping at consistency, the backup's end).
  const recoveryPoint = outcome.lastCommit ?? outcome.stopTime ?? (i.immediate ? backup.stoppedAt : plan.lastSegment.mtime.toISOString());
  // Data lost: from the target (or now, for latest) back to the last transaction recovered.
  const lostMs = Math.max(0, (target === 'latest' ? Date.now() : target.getTime()) - Date.parse(recoveryPoint));
  ctx.log(`promoted on timeline ${outcome.newTimeline ?? '?'}; data as of ${recoveryPoint} (${formatDuration(lostMs)} before ${target === 'latest' ? 'now' : 'the target'})`);
  return { ...base, restored: true, started: true, recoveryPoint, dataLossMs: lostMs, timeline: outcome.newTimeline ?? 0, stoppedAt: outcome.stopTime ?? '' };
}

async function prepareTargetDir(ctx: ActionContext, dir: string): Promise<void> {
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const entries = await readdir(dir);
  if (!entries.length) return;
  if (entries.includes('postmaster.pid')) {
    throw new UsageError(`--target-dir ${dir}: a PostgreSQL server seems to be running on it (postmaster.pid); stop it first`, 'usage.targetDir');
  }
  const ok = await ctx.confirm(`${dir} is not empty (${entries.length} entries). Delete its contents and restore into it?`);
  if (!ok) throw new ConfirmationError(`declined: ${dir} left untouched`);
  for (const e of entries) await rm(path.join(dir, e), { recursive: true, force: true });
}

async function extract(ctx: ActionContext, repo: Repository, m: Manifest, dir: string): Promise<void> {
  const entry = m.objects.find((o) => o.path.split('/').pop() === 'base.tar.gz') ?? m.objects[0];
  if (!entry) throw new OperationError('backup.empty', `backup ${m.id} has no objects`);
  // Nothing of the tar's ownership or setuid/setgid bits survives (GNU tar keeps both by
  // default as root): --no-same-permissions under umask 077 leaves owner-only rwx bits.
  const tarArgs = ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions'];
  const tar = await spawnProcess('/bin/sh', ['-c', 'umask 077 && exec tar "$@"', 'tar', ...tarArgs], { signal: ctx.signal, env: { PATH: ctx.env.PATH }, stdin: 'pipe', stdout: 'ignore' });
  const source = await repo.readObject(m, entry, { signal: ctx.signal });
  try {
    await pipeline(source, progressMeter(ctx, entry.size), createGunzip(), childStdinSink(tar.stdin as NodeJS.WritableStream), { signal: ctx.signal });
  } catch (err) {
    tar.kill();
    await tar.done;
    throw err;
  }
  const r = await tar.done;
  if (r.exitCode !== 0) throw new OperationError('restore.tar', `tar failed extracting ${m.id}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  // An empty pg_wal is not in every tar; the server needs it.
  await mkdir(path.join(dir, 'pg_wal', 'archive_status'), { recursive: true });
}

async function prefetch(ctx: ActionContext, repo: Repository, files: WalObject[], spool: string): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const w = files[next++]!;
      const ok = await fetchWal(repo, w.name, path.join(spool, w.name), ctx.signal);
      if (!ok) throw new OperationError('pitr.walMissing', `WAL ${w.name} disappeared from the archive during the restore`);
      done++;
      ctx.progress({ message: `WAL ${done}/${files.length} fetched and verified` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREFETCH, files.length) }, worker));
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A 0700 directory beside the data directory for the credentials restore_command needs: inside
 * PGDATA, the next base backup would copy them. A temp directory when the parent is not ours.
 */
async function credentialsDir(targetDir: string): Promise<string> {
  try {
    return await mkdtemp(path.join(path.dirname(targetDir), `.${path.basename(targetDir)}.drctl-`));
  } catch {
    return mkdtemp(path.join(os.tmpdir(), 'drctl-restore-env-'));
  }
}

/** archive_mode and archive_command as the restored server will see them (postgres -C). */
async function archivingAsConfigured(ctx: ActionContext, dir: string, own: Owner | undefined): Promise<string> {
  const show = async (name: string) => {
    const args = ['-D', dir, '-C', name];
    const bin = toolPath('postgres', ctx.env);
    const [cmd, argv] = own ? ['runuser', ['-u', userName(own.uid), '--', bin, ...args]] : [bin, args];
    const r = await runProcess(cmd, argv, { signal: ctx.signal, env: { PATH: ctx.env.PATH, LANG: 'C.UTF-8' } });
    return r.exitCode === 0 ? r.stdout.trim() : '?';
  };
  const mode = await show('archive_mode');
  if (mode === 'off') return 'off';
  return `archive_mode ${mode}, archive_command '${await show('archive_command')}'`;
}

async function writeRecoveryConfig(ctx: ActionContext, repo: Repository, dir: string, spool: string, secretsDir: string, target: RecoveryTarget, i: PhysicalInput, plan: WalPlan): Promise<void> {
  // What wal-fetch needs under the server, in a file only the server's user can read.
  const envFile = path.join(secretsDir, 'drctl.env');
  const pass = ['PATH', 'DRCTL_ENCRYPTION_KEY', 'DRCTL_ENCRYPTION_KEY_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'DRCTL_S3_CHECKSUMS', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
  const lines = [`DRCTL_REPO=${repo.url}`, ...pass.filter((k) => ctx.env[k] !== undefined).map((k) => `${k}=${ctx.env[k]}`)];
  await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  const cli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'cli.js');
  const fetchCmd = `${shq(process.execPath)} ${shq(cli)} --env-file ${shq(envFile)} wal-fetch %f "%p"`;
  const restoreCommand = `test -f ${shq(spool)}/%f && mv ${shq(spool)}/%f "%p" || ${fetchCmd}`;
  const settings: Record<string, string> = {
    restore_command: restoreCommand,
    recovery_target_action: 'promote',
    recovery_target_timeline: i.timeline !== undefined ? String(i.timeline) : 'latest',
  };
  if (target !== 'latest') settings.recovery_target_time = toPostgresTime(target);
  else if (i.immediate) settings.recovery_target = 'immediate';
  if (i.port !== undefined) settings.port = String(i.port);
  if (i.archive === false) settings.archive_mode = 'off';
  if (i.privateSocketDir) {
    // Only drctl's own OS user gets in, over the private socket: no TCP, no trust, and none of
    // the source's own rules (which may trust every local user).
    await mkdir(i.privateSocketDir, { recursive: true, mode: 0o700 });
    await chmod(i.privateSocketDir, 0o700);
    settings.unix_socket_directories = i.privateSocketDir;
    settings.listen_addresses = '';
    const hba = path.join(dir, 'pg_hba.conf');
    const ident = path.join(dir, 'pg_ident.conf');
    await writeFile(hba, '# drctl test restore: drctl\'s own OS user only, as postgres, by peer authentication\nlocal all postgres peer map=drctl\n', { mode: 0o600 });
    await writeFile(ident, `drctl ${os.userInfo().username} postgres\n`, { mode: 0o600 });
    settings.hba_file = hba;
    settings.ident_file = ident;
  }
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  await appendFile(path.join(dir, 'postgresql.auto.conf'), `\n# drctl restore of ${plan.backup.id}\n${conf.join('\n')}\n`);
  await writeFile(path.join(dir, 'recovery.signal'), '');
}

/** chown -R that never follows a symlink: a link to /etc/passwd in a backup stays a link. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    // A Dirent of a symlink is never a directory: the walk does not leave the tree.
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await lchown(p, uid, gid);
  }
}

interface Outcome {
  promoted: boolean;
  fatal?: string;
  stopTime?: string;
  lastCommit?: string;
  newTimeline?: number;
  redoDone?: string;
}

function pgTime(s: string): string {
  const iso = s.trim().replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? s.trim() : new Date(ms).toISOString();
}

async function startAndWatch(ctx: ActionContext, dir: string, timeoutMs: number): Promise<Outcome> {
  const log = path.join(dir, LOG);
  const own = owner(path.join(dir, 'PG_VERSION'));
  const pgCtl = toolPath('pg_ctl', ctx.env);
  const args = ['-D', dir, '-l', log, '-o', '-c logging_collector=off', 'start'];
  const [cmd, argv] = own ? ['runuser', ['-u', userName(own.uid), '--', pgCtl, ...args]] : [pgCtl, args];
  const started = await spawnProcess(cmd, argv, { signal: ctx.signal, env: { PATH: ctx.env.PATH, LANG: 'C.UTF-8' }, stdout: 'ignore' });
  const r = await started.done;
  if (r.exitCode !== 0) throw new OperationError('restore.start', `pg_ctl start failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  const deadline = Date.now() + timeoutMs;
  const out: Outcome = { promoted: false };
  let offset = 0;
  let text = '';
  while (Date.now() < deadline) {
    ctx.signal.throwIfAborted();
    text += await readFrom(log, offset);
    offset = Buffer.byteLength(text);
    const stop = /recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, time (.+)$/m.exec(text);
    if (stop) out.stopTime = pgTime(stop[1]!);
    const last = /last completed transaction was at log time (.+)$/m.exec(text);
    if (last) out.lastCommit = pgTime(last[1]!);
    const tl = /selected new timeline ID: (\d+)/.exec(text);
    if (tl) out.newTimeline = Number(tl[1]);
    const redo = /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(text);
    if (redo) out.redoDone = redo[1];
    const fatal = /(?:FATAL|PANIC):\s+(.+)$/m.exec(text);
    if (fatal) {
      out.fatal = fatal[1];
      return out;
    }
    if (/database system is ready to accept connections/.test(text) && (tl || /archive recovery complete/.test(text))) {
      out.promoted = true;
      return out;
    }
    if (/shutting down|database system is shut down/.test(text)) {
      out.fatal = 'the server shut down during recovery';
      return out;
    }
    ctx.progress({ message: text.trim().split('\n').pop()?.replace(/^.*?(LOG|WARNING):\s+/, '') ?? '' });
    await sleep(200, undefined, { signal: ctx.signal });
  }
  throw new OperationError('restore.timeout', `recovery did not finish within ${Math.round(timeoutMs / 1000)}s; the server is still replaying (see ${log})`);
}

async function readFrom(file: string, offset: number): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      if (size <= offset) return '';
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** Stops a server running on a data directory, as the directory's owner. */
export async function stopCluster(ctx: ActionContext, dir: string, mode: 'fast' | 'immediate' = 'fast'): Promise<boolean> {
  if (!existsSync(path.join(dir, 'postmaster.pid'))) return false;
  const own = owner(path.join(dir, 'PG_VERSION'));
  const pgCtl = toolPath('pg_ctl', ctx.env);
  const args = ['-D', dir, '-m', mode, '-w', 'stop'];
  const [cmd, argv] = own ? ['runuser', ['-u', userName(own.uid), '--', pgCtl, ...args]] : [pgCtl, args];
  const r = await spawnProcess(cmd, argv, { signal: ctx.signal, env: { PATH: ctx.env.PATH, LANG: 'C.UTF-8' }, stdout: 'ignore' });
  const done = await r.done;
  if (done.exitCode !== 0) throw new OperationError('postgres.stop', `pg_ctl stop failed: ${done.stderr.trim().split('\n').pop() ?? ''}`);
  return true;
}

/** The login name of a uid, for runuser. */
function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // fall through
  }
  return String(uid);
}

function checkOutcome(o: Outcome, target: RecoveryTarget | 'immediate', plan: WalPlan, segSize: number): void {
  if (o.fatal) {
    if (/recovery ended before configured recovery target was reached/.test(o.fatal)) {
      throw new OperationError('pitr.short', `recovery ended before the target ${target instanceof Date ? target.toISOString() : target}: the server found no more WAL. Nothing was promoted`);
    }
    throw new OperationError('pitr.fatal', `the restored server failed: ${o.fatal}`);
  }
  if (!o.promoted) throw new OperationError('pitr.notPromoted', 'the restored server did not promote');
  if (target instanceof Date && !o.stopTime) {
    throw new OperationError('pitr.noStop', `the server promoted without reporting that it stopped at ${target.toISOString()}; not calling this a successful point-in-time restore`);
  }
  if (target === 'latest' && o.redoDone) {
    const reached = segmentNumber(segmentForLsn(parseLsn(o.redoDone), 1, segSize), segSize);
    const want = segmentNumber(plan.lastSegment.name, segSize);
    if (reached < want) throw new OperationError('pitr.short', `replay ended at ${o.redoDone}, before the last archived segment ${plan.lastSegment.name}`);
  }
}

