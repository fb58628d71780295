import { existsSync } from 'node:fs';
import { chmod, lchown, mkdir, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../errors.js';
import type { RecoveryTarget } from '../../pitr/select.js';
import type { Repository } from '../../repository/repository.js';
import { formatDuration } from '../../time/duration.js';
import { parseTimePoint } from '../../time/time-point.js';
import type { ActionContext, Outputs } from '../types.js';
import { dropRecoverySettings } from './auto-conf.js';
import { extractBaseBackup } from './base-extract.js';
import { clusterState, serverRunning } from './cluster.js';
import { chownTree, restoreOwner } from './owner.js';
import { archivingAsConfigured, credentialsDir, writeRecoveryConfig } from './recovery-config.js';
import { checkOutcome, startAndWatch, type Outcome } from './recovery-watch.js';
import { planRestore } from './restore-plan.js';
import { prepareTargetDir, undoTargetDir } from './target-dir.js';
import { prefetchWal, SPOOL } from './wal-prefetch.js';

// Physical restore and point-in-time recovery into a data directory. Everything that can
// refuse, refuses before the directory is touched (restore-plan.ts). The needed WAL is fetched
// and verified into a spool while the base backup's parts are extracted, all before the server
// starts (wal-prefetch.ts, base-extract.ts); restore_command moves spooled files and falls
// back to drctl wal-fetch (recovery-config.ts). With start, success is what the server says
// (recovery-watch.ts). As root, nothing from the tar decides ownership or setuid bits, no
// chown follows a symlink, and the credentials restore_command needs live outside the data
// directory, where the next base backup cannot copy them.

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
  const { backup, wal: plan, segSize } = await planRestore(ctx, repo, { backup: i.backup, target, timeline: i.timeline });

  // 2. The target directory: absent or empty, or replaced after confirmation.
  const own = restoreOwner(targetDir);
  const found = await prepareTargetDir(ctx, targetDir);

  // 3. Base backup, verified, then the WAL, verified, into the spool.
  let secretsDir: string | undefined;
  let archiving: string;
  const local = new AbortController();
  const signal = AbortSignal.any([ctx.signal, local.signal]);
  try {
    const spool = path.join(targetDir, SPOOL);
    await mkdir(spool, { recursive: true, mode: 0o700 });
    await extractWhileFetching(ctx, () => extractBaseBackup(ctx, repo, backup, targetDir, signal), () => prefetchWal(ctx, repo, plan.files, spool, signal), local);
    secretsDir = await credentialsDir(targetDir);
    await writeRecoveryConfig(ctx, repo, targetDir, spool, secretsDir, target, { ...i, archive, backupId: backup.id });
    if (own) {
      await chownTree(targetDir, own.uid, own.gid);
      await chownTree(secretsDir, own.uid, own.gid);
      if (i.privateSocketDir) await lchown(i.privateSocketDir, own.uid, own.gid);
    }
    await chmod(targetDir, 0o700);
    archiving = archive ? await archivingAsConfigured(ctx, targetDir, own) : 'off';
  } catch (err) {
    await undoTargetDir(found).catch(() => {});
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
    // Still replaying (timeout, interrupt), restore_command may yet need the credentials; a
    // server that never started needs nothing.
    const local = { ...ctx, signal: new AbortController().signal };
    await releaseCredentials(local, targetDir, secretsDir, 0).catch(() => ctx.log(`${secretsDir} holds the repository credentials restore_command uses: remove it once the server has promoted`));
    throw err;
  }
  try {
    checkOutcome(outcome, i.immediate ? 'immediate' : target, plan, segSize);
    // The log is one witness; the control file is the server's own record that recovery ended.
    const state = await clusterState(ctx, targetDir);
    if (state !== 'in production') throw new OperationError('pitr.notPromoted', `the server's log reads as promoted, but its control file says "${state ?? 'unreadable'}"; not calling this a successful restore`);
  } catch (err) {
    await releaseCredentials(ctx, targetDir, secretsDir);
    throw err;
  }
  await releaseCredentials(ctx, targetDir, secretsDir);
  // This recovery's target and restore_command must not travel into the new primary's base backups.
  await dropRecoverySettings(path.join(targetDir, 'postgresql.auto.conf'));
  await rm(path.join(targetDir, SPOOL), { recursive: true, force: true });
  // With no transaction replayed, the data is complete up to the newest WAL replayed (or, when
  // stopping at consistency, the backup's end).
  const recoveryPoint = outcome.lastCommit ?? outcome.stopTime ?? (i.immediate ? backup.stoppedAt : plan.lastSegment.mtime.toISOString());
  // Data lost: from the target (or now, for latest) back to the last transaction recovered.
  const lostMs = Math.max(0, (target === 'latest' ? Date.now() : target.getTime()) - Date.parse(recoveryPoint));
  ctx.log(`promoted on timeline ${outcome.newTimeline ?? '?'}; data as of ${recoveryPoint} (${formatDuration(lostMs)} before ${target === 'latest' ? 'now' : 'the target'})`);
  return { ...base, restored: true, started: true, recoveryPoint, dataLossMs: lostMs, timeline: outcome.newTimeline ?? 0, stoppedAt: outcome.stopTime ?? '' };
}

/**
 * Runs the base backup's extraction and the WAL prefetch side by side (one is disk and
 * decompression, the other the repository and hashing), and returns only once both have
 * stopped: the caller removes the directory they write into on failure. The first failure
 * stops the other and is the one thrown.
 */
async function extractWhileFetching(ctx: ActionContext, extract: () => Promise<void>, fetch: () => Promise<void>, local: AbortController): Promise<void> {
  let cause: unknown;
  const guard = (p: Promise<void>) =>
    p.catch((err: unknown) => {
      cause ??= err;
      local.abort();
      throw err;
    });
  const results = await Promise.allSettled([guard(extract()), guard(fetch())]);
  if (results.some((r) => r.status === 'rejected')) throw cause;
  ctx.log('base backup extracted and WAL fetched');
}

const STOP_GRACE_MS = 10_000;

/**
 * Removes the credentials restore_command reads once nothing can run it any more: the server
 * has ended recovery (its control file says so), or no server runs on the directory. A server
 * still recovering keeps them, whatever its log seemed to say, and the operator is told where.
 */
async function releaseCredentials(ctx: ActionContext, dir: string, secretsDir: string, graceMs = STOP_GRACE_MS): Promise<void> {
  // A server that failed is still shutting down when its FATAL line is read: a few seconds.
  for (const deadline = Date.now() + graceMs; ; await sleep(200, undefined, { signal: ctx.signal })) {
    if ((await clusterState(ctx, dir)) === 'in production' || !(await serverRunning(ctx, dir))) {
      await rm(secretsDir, { recursive: true, force: true });
      return;
    }
    if (Date.now() > deadline) break;
  }
  ctx.log(`${secretsDir} holds the repository credentials restore_command uses: the server is still recovering; remove it once it has promoted`);
}
