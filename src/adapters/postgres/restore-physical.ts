import { chownSync, existsSync, readFileSync, statSync } from 'node:fs';
import { appendFile, chmod, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { childStdinSink, spawnProcess } from '../../process/run-process.js';
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

export interface PhysicalInput {
  backup: string;
  pitr?: string;
  targetDir: string;
  repo?: string;
  timeline?: number;
  start: boolean;
  port?: number;
  archive: boolean;
  startTimeoutMs: number;
  /** Test restores: listen only on a socket in this directory and trust local connections. */
  privateSocketDir?: string;
  /** Stop as soon as the base backup is consistent (recovery_target = 'immediate'). */
  immediate?: boolean;
}

const SPOOL = 'drctl_wal_spool';
const LOG = 'drctl-recovery.log';
const PREFETCH = 4;

function owner(dir: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const s = statSync(dir);
  return { uid: s.uid, gid: s.gid };
}

export async function physicalRestore(ctx: ActionContext, repo: Repository, i: PhysicalInput): Promise<Outputs> {
  const targetDir = path.resolve(i.targetDir);
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
  await prepareTargetDir(ctx, targetDir);

  // 3. Base backup, verified, then the WAL, verified, into the spool.
  try {
    await extract(ctx, repo, backup, targetDir);
    // The files keep the server user's ownership from the tar; the directory follows them.
    const own = owner(path.join(targetDir, 'PG_VERSION'));
    const spool = path.join(targetDir, SPOOL);
    await mkdir(spool, { recursive: true, mode: 0o700 });
    await prefetch(ctx, repo, plan.files, spool);
    await writeRecoveryConfig(ctx, repo, targetDir, spool, target, i, plan);
    if (own) await chownTree(targetDir, own.uid, own.gid);
    await chmod(targetDir, 0o700);
  } catch (err) {
    await rm(targetDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }

  const base = { backupId: backup.id, dataDir: targetDir, target: target === 'latest' ? 'latest' : target.toISOString(), walFiles: plan.files.length };
  if (!i.start) {
    ctx.log(`prepared ${targetDir}; start it with: pg_ctl -D ${targetDir} start (recovery then runs to the target and promotes)`);
    return { ...base, restored: false, started: false, recoveryPoint: '' };
  }
  const outcome = await startAndWatch(ctx, targetDir, i.startTimeoutMs);
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
  const entry = m.objects[0];
  if (!entry) throw new OperationError('backup.empty', `backup ${m.id} has no objects`);
  const tar = await spawnProcess('tar', ['-x', '-f', '-', '-C', dir], { signal: ctx.signal, env: { PATH: ctx.env.PATH }, stdin: 'pipe', stdout: 'ignore' });
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

async function writeRecoveryConfig(ctx: ActionContext, repo: Repository, dir: string, spool: string, target: RecoveryTarget, i: PhysicalInput, plan: WalPlan): Promise<void> {
  // What wal-fetch needs under the server, in a file only the server's user can read.
  const envFile = path.join(spool, 'drctl.env');
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
  if (!i.archive) settings.archive_mode = 'off';
  if (i.privateSocketDir) {
    settings.unix_socket_directories = i.privateSocketDir;
    settings.listen_addresses = '';
    const hba = path.join(dir, 'pg_hba.conf');
    const old = existsSync(hba) ? readFileSync(hba, 'utf8') : '';
    await writeFile(hba, `# drctl test restore: local trust first\nlocal all all trust\n${old}`);
  }
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  await appendFile(path.join(dir, 'postgresql.auto.conf'), `\n# drctl restore of ${plan.backup.id}\n${conf.join('\n')}\n`);
  await writeFile(path.join(dir, 'recovery.signal'), '');
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  chownSync(dir, uid, gid);
  for (const e of await readdir(dir, { recursive: true })) chownSync(path.join(dir, e as string), uid, gid);
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

