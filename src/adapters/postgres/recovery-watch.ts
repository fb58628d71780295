import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OperationError } from '../../errors.js';
import type { RecoveryTarget, WalPlan } from '../../pitr/select.js';
import { parseLsn, segmentForLsn, segmentNumber } from '../../pitr/wal-names.js';
import type { ActionContext } from '../types.js';
import { postmasterProbe, startCluster, watchLog } from './cluster.js';
import { fatalOf, parseLog, RECOVERY_LOG, serverLines, WATCHED_LOG_OPTIONS } from './server-log.js';

// Starting a restored data directory and reading its log until recovery ends: success is what
// the server says — promoted, and "recovery stopping before/after ..." at the target.

export interface Outcome {
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

/**
 * PostgreSQL says only that restore_command failed, and with which exit code; wal-fetch's own
 * line, just before in the log, says why (a damaged object, a repository it may not read).
 */
function withReason(fatal: string, text: string): string {
  if (!/^could not restore file/.test(fatal)) return fatal;
  // The line right before the server's FATAL: restore_command's stderr comes just before it.
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.endsWith(fatal) && /\bFATAL:/.test(l));
  const why = at > 0 && lines[at - 1]!.startsWith('drctl: ') ? lines[at - 1] : undefined;
  return why ? `${fatal} (${why})` : fatal;
}

/**
 * What the server says in its recovery log so far; undefined while recovery is still running.
 * Only the postmaster's and the startup process's own lines count (server-log.ts): clients
 * refused during replay write FATAL lines too.
 */
export function readOutcome(text: string): Outcome | undefined {
  const all = parseLog(text);
  const postmaster = all[0]?.pid;
  const out: Outcome = { promoted: false };
  let fatal: string | undefined;
  let ready = false;
  let complete = false;
  let shutDown = false;
  for (const l of serverLines(all)) {
    const m = l.message;
    if (l.level === 'FATAL' || l.level === 'PANIC') fatal ??= m;
    let r: RegExpExecArray | null;
    if ((r = /^recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, time (.+)$/.exec(m))) out.stopTime = pgTime(r[1]!);
    else if ((r = /^last completed transaction was at log time (.+)$/.exec(m))) out.lastCommit = pgTime(r[1]!);
    else if ((r = /^selected new timeline ID: (\d+)/.exec(m))) out.newTimeline = Number(r[1]);
    else if ((r = /^redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(m))) out.redoDone = r[1];
    else if (/^archive recovery complete/.test(m)) complete = true;
    if (l.pid !== postmaster) continue;
    if (/^database system is ready to accept connections/.test(m)) ready = true;
    // The startup process may have died before it was recognised: its own words, by its pid.
    else if ((r = /^startup process \(PID (\d+)\) (?:exited|was terminated)/.exec(m))) fatal ??= fatalOf(all, Number(r[1])) ?? m;
    else if (/^(?:received (?:smart|fast|immediate) shutdown request|database system is shut down)/.test(m)) shutDown = true;
  }
  if (fatal) return { ...out, fatal: withReason(fatal, text) };
  if (ready && (out.newTimeline !== undefined || complete)) return { ...out, promoted: true };
  if (shutDown) return { ...out, fatal: 'the server shut down during recovery' };
  return undefined;
}

/**
 * Whether this start of a freshly restored directory may sync it with one syncfs() instead of
 * an fsync of every file. Every file was just written (none of it is on disk yet), and
 * PostgreSQL syncs the whole directory before recovery; opening and fsyncing each of thousands
 * of files costs a journal commit apiece. It is a -c option of this start, not a setting
 * written into the directory (pg_ctl restart repeats it, from postmaster.opts: harmless, a
 * crash-recovery sync method), only on Linux 5.8 or later, where syncfs reports write errors,
 * and only for PostgreSQL 14 or later, which has the setting.
 */
export function syncfsWorks(release = os.release(), platform = process.platform): boolean {
  if (platform !== 'linux') return false;
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 8);
}

/** The data directory's PostgreSQL major version (PG_VERSION), 0 when unreadable. */
async function majorVersion(dir: string): Promise<number> {
  try {
    return Number.parseInt(await readFile(path.join(dir, 'PG_VERSION'), 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

/** Starts the restored server as the directory's owner and follows its log until recovery ends. */
export async function startAndWatch(ctx: ActionContext, dir: string, timeoutMs: number): Promise<Outcome> {
  const log = path.join(dir, RECOVERY_LOG);
  // Only what this start writes may decide. A log already there is another server's: a source
  // that was itself restored by drctl kept writing it, and its base backups carry it, with an
  // older recovery's "ready to accept connections" in it.
  await rm(log, { force: true });
  const syncfs = syncfsWorks() && (await majorVersion(dir)) >= 14;
  await startCluster(ctx, dir, { log, code: 'restore.start', serverOptions: `${WATCHED_LOG_OPTIONS}${syncfs ? ' -c recovery_init_sync_method=syncfs' : ''}` });
  const out = await watchLog(ctx, log, Date.now() + timeoutMs, readOutcome, {
    onLine: (line) => ctx.progress({ message: line.replace(/^.*?(LOG|WARNING):\s+/, '') }),
    ended: { running: postmasterProbe(dir), verdict: () => ({ promoted: false, fatal: 'the server stopped during recovery without writing why in its log (killed? out of memory?)' }) },
  });
  if (out) return out;
  throw new OperationError('restore.timeout', `recovery did not finish within ${Math.round(timeoutMs / 1000)}s; the server is still replaying (see ${log})`);
}

/** Throws unless the server promoted at the target (or, for latest, after the last archived segment). */
export function checkOutcome(o: Outcome, target: RecoveryTarget | 'immediate', plan: WalPlan, segSize: number): void {
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
