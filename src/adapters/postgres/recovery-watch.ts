import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OperationError } from '../../errors.js';
import type { RecoveryTarget, WalPlan } from '../../pitr/select.js';
import { parseLsn, segmentForLsn, segmentNumber } from '../../pitr/wal-names.js';
import type { ActionContext } from '../types.js';
import { startCluster, watchLog } from './cluster.js';

// Starting a restored data directory and reading its log until recovery ends: success is what
// the server says — promoted, and "recovery stopping before/after ..." at the target.

export const RECOVERY_LOG = 'drctl-recovery.log';

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

/** What the recovery log says so far; undefined while recovery is still running. */
export function readOutcome(text: string): Outcome | undefined {
  const out: Outcome = { promoted: false };
  const stop = /recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, time (.+)$/m.exec(text);
  if (stop) out.stopTime = pgTime(stop[1]!);
  const last = /last completed transaction was at log time (.+)$/m.exec(text);
  if (last) out.lastCommit = pgTime(last[1]!);
  const tl = /selected new timeline ID: (\d+)/.exec(text);
  if (tl) out.newTimeline = Number(tl[1]);
  const redo = /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(text);
  if (redo) out.redoDone = redo[1];
  const fatal = /(?:FATAL|PANIC):\s+(.+)$/m.exec(text);
  if (fatal) return { ...out, fatal: fatal[1] };
  if (/database system is ready to accept connections/.test(text) && (tl || /archive recovery complete/.test(text))) return { ...out, promoted: true };
  if (/shutting down|database system is shut down/.test(text)) return { ...out, fatal: 'the server shut down during recovery' };
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
  const syncfs = syncfsWorks() && (await majorVersion(dir)) >= 14;
  await startCluster(ctx, dir, { log, code: 'restore.start', serverOptions: `-c logging_collector=off${syncfs ? ' -c recovery_init_sync_method=syncfs' : ''}` });
  const out = await watchLog(ctx, log, Date.now() + timeoutMs, readOutcome, (line) => ctx.progress({ message: line.replace(/^.*?(LOG|WARNING):\s+/, '') }));
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
