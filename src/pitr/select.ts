import { OperationError, UsageError } from '../errors.js';
import type { Manifest } from '../repository/manifest.js';
import { bySource, describeSources } from '../repository/source.js';
import { historyFileName, parseLsn, segmentName, segmentNumber, type TimelineSwitch, type WalObject, type Ancestry } from './wal-names.js';

// Point-in-time recovery planning, pure so it can be tested exhaustively: which base backup,
// which WAL segments, and whether they reach the target. It fails closed: no base backup that
// ended before the target, a gap, or an archive that stops short is an error naming what the
// repository does cover, raised before anything touches the target directory.

export type RecoveryTarget = Date | 'latest';

export interface WalPlan {
  backup: Manifest;
  timeline: number;
  /** Segments (and history files) to fetch, in replay order. */
  files: WalObject[];
  lastSegment: WalObject;
}

function fmt(d: Date | string): string {
  return typeof d === 'string' ? d : d.toISOString();
}

/**
 * The newest base backup that ended before the target, on the target timeline or an ancestor
 * branch; refused when those are of several clusters.
 */
export function selectBaseBackup(backups: Manifest[], target: RecoveryTarget, timeline: number, anc: Ancestry): Manifest {
  const onPath = backups.filter((b) => {
    if (b.kind !== 'base' || !b.pg) return false;
    if (b.pg.timeline === timeline) return true;
    const left = anc.get(b.pg.timeline);
    return left !== undefined && parseLsn(b.pg.stopLsn) <= left;
  });
  const before = (target === 'latest' ? onPath : onPath.filter((b) => Date.parse(b.stoppedAt) <= target.getTime())).sort((a, b) => Date.parse(a.stoppedAt) - Date.parse(b.stoppedAt));
  // Base backups of two clusters cannot both lead to the target: the WAL of one does not
  // replay on the other, and the newest may be of the wrong one.
  const clusters = [...bySource(before).values()];
  if (clusters.length > 1) {
    throw new UsageError('usage.backup', `the repository holds base backups of ${clusters.length} clusters, ${describeSources(clusters)}; pass --backup <id> to say which`);
  }
  const chosen = before[before.length - 1];
  if (chosen) return chosen;
  const bases = backups.filter((b) => b.kind === 'base').sort((a, b) => Date.parse(a.stoppedAt) - Date.parse(b.stoppedAt));
  if (!bases.length) throw new OperationError('pitr.noBackup', 'no base backup in the repository: take one with drctl backup --type base');
  if (!onPath.length) throw new OperationError('pitr.noBackup', `no base backup on timeline ${timeline} or its ancestors (base backups: ${bases.map((b) => `${b.id} on timeline ${b.pg?.timeline}`).join(', ')})`);
  throw new OperationError(
    'pitr.tooEarly',
    `no base backup ended before ${fmt(target as Date)}: the earliest, ${onPath[0]!.id}, ended at ${onPath[0]!.stoppedAt}. Refusing to restore from a backup newer than the target`,
  );
}

/**
 * The latest its archiving may have happened: S3 gives write times in whole seconds, cut down,
 * so a segment archived 0.9 s after the target would otherwise read as archived before it and the
 * restore be refused. The server still has the last word: recovery that ends short of the target
 * fails the restore.
 */
function archivedUpTo(w: WalObject): number {
  return w.mtime.getTime() + (w.mtime.getMilliseconds() === 0 ? 999 : 0);
}

/**
 * The WAL to replay from the backup's first segment: contiguous, following the timeline
 * switches, and reaching the target (a segment archived at or after it), or to the end of the
 * archive for 'latest'.
 */
export function planWal(backup: Manifest, target: RecoveryTarget, wal: WalObject[], timeline: number, anc: Ancestry, segSize: number): WalPlan {
  const pg = backup.pg;
  if (!pg) throw new OperationError('pitr.notBase', `backup ${backup.id} is not a base backup`);
  const byName = new Map(wal.map((w) => [w.name, w]));
  // Timelines from the backup's up to the target one, with the segment at which each begins.
  const path: { tli: number; fromSeg: bigint }[] = [];
  const chain = [...anc.entries()].filter(([tli]) => tli >= pg.timeline).sort(([a], [b]) => a - b);
  let fromSeg = segmentNumber(pg.walStart, segSize);
  path.push({ tli: pg.timeline, fromSeg });
  for (const [parent, left] of chain) {
    const child = chain.find(([p]) => p > parent)?.[0] ?? timeline;
    fromSeg = left / BigInt(segSize);
    if (parent >= pg.timeline) path.push({ tli: child, fromSeg });
  }
  const tliFor = (seg: bigint) => [...path].reverse().find((p) => seg >= p.fromSeg)!.tli;
  /**
   * The segment a timeline branched in holds the parent's WAL up to the switch point, and the
   * parent's own copy holds the same up to there. The new timeline's copy is archived only once
   * that segment fills (or at archive_timeout): until then, a target before the switch point is
   * reached through the parent's copy, as PostgreSQL itself falls back to it.
   */
  const segmentAt = (seg: bigint): WalObject | undefined => {
    const own = byName.get(segmentName(tliFor(seg), seg, segSize));
    if (own) return own;
    const at = path.findIndex((p, i) => i > 0 && p.fromSeg === seg);
    return at > 0 ? byName.get(segmentName(path[at - 1]!.tli, seg, segSize)) : undefined;
  };

  const files: WalObject[] = [];
  for (const p of path.slice(1)) {
    const h = byName.get(historyFileName(p.tli));
    if (!h) throw new OperationError('pitr.history', `timeline ${p.tli} history file ${historyFileName(p.tli)} is not in the archive`);
    files.push(h);
  }
  const stopSeg = segmentNumber(pg.walStop, segSize);
  let seg = segmentNumber(pg.walStart, segSize);
  let last: WalObject | undefined;
  for (;;) {
    const name = segmentName(tliFor(seg), seg, segSize);
    const w = segmentAt(seg);
    if (!w) {
      const missing = name;
      if (seg <= stopSeg) {
        throw new OperationError('pitr.walMissing', `backup ${backup.id} needs WAL ${pg.walStart}..${pg.walStop}, but ${missing} is not in the archive`);
      }
      const later = wal.filter((x) => x.name.length === 24 && x.name.slice(0, 8) === missing.slice(0, 8) && x.name > missing);
      const reached = last ? `${last.name}, archived ${last.mtime.toISOString()}` : 'nothing';
      if (target === 'latest') {
        if (later.length) throw new OperationError('pitr.walGap', `gap in the WAL archive: ${missing} is missing but ${later.length} later segment(s) exist (up to ${later[later.length - 1]!.name}); the archive is continuous only up to ${reached}`);
        break;
      }
      if (last && archivedUpTo(last) >= target.getTime()) break;
      if (later.length) {
        throw new OperationError('pitr.walGap', `gap in the WAL archive: ${missing} is missing, so replay cannot reach ${fmt(target)}; the archive is continuous only up to ${reached}`);
      }
      throw new OperationError('pitr.walShort', `archived WAL does not reach ${fmt(target)}: it ends with ${reached}. Refusing to stop short of the target (WAL written since is archived when its segment fills, at archive_timeout, or after select pg_switch_wal())`);
    }
    files.push(w);
    last = w;
    // Reaching the target: a segment archived after it holds all WAL written before it.
    if (target !== 'latest' && seg >= stopSeg && archivedUpTo(w) >= target.getTime()) break;
    // The parent's copy of a branch segment serves only up to the branch: a target before it,
    // or 'latest' when nothing of the new timeline is archived beyond (then that is its end).
    if (w.name !== name) {
      const later = wal.some((x) => x.name.length === 24 && x.name.slice(0, 8) === name.slice(0, 8) && x.name > name);
      if (target === 'latest' && !later) break;
      throw new OperationError(
        target === 'latest' ? 'pitr.walGap' : 'pitr.walShort',
        `archived WAL does not reach ${target === 'latest' ? `the end of timeline ${tliFor(seg)}` : fmt(target)}: ${name}, where timeline ${tliFor(seg)} begins, is not archived yet (it is when it fills, at archive_timeout, or after select pg_switch_wal() on that server)`,
      );
    }
    seg++;
  }
  return { backup, timeline, files, lastSegment: last! };
}
