import { UsageError } from '../errors.js';
import { listWal } from './wal-archive.js';
import { DEFAULT_SEGMENT_SIZE, segmentNumber, walFileKind } from './wal-names.js';
import type { Manifest } from '../repository/manifest.js';
import type { Catalog, Repository } from '../repository/repository.js';
import { decideRetention, type RetentionDecision, type RetentionPolicy } from '../repository/retention.js';
import { bySource, distinctLabels } from '../repository/source.js';

// `backups expire`: apply retention, remove the backups the operator names, and remove orphans
// (data without a manifest, older than a grace period so a running backup is never touched).
// Prints only, unless confirmed.
// A confirmed expire plans under the repository lock and applies that plan before releasing
// it: a plan made from an earlier listing could name as an orphan a backup that has committed
// since, or that a lagging listing showed without its manifest.

export interface ExpirePolicy extends RetentionPolicy {
  /**
   * Backups to remove whatever the counts say (`--backup`): retention never removes the last
   * backup of a database, so one dropped for good, or a backup known to be bad, goes only by name.
   */
  remove?: readonly string[];
}

export interface ExpirePlan {
  remove: { id: string; why: string }[];
  keep: { id: string; why: string }[];
  orphans: { id: string; objects: number; newest: string }[];
  /** Listed without their manifest, but it is there when asked for directly: never removed. */
  notOrphans: { id: string; why: string }[];
  tempFiles: string[];
  /** Empty directories under backups/ a killed writer left (file repositories), unchanged since `emptyBefore`. */
  emptyDirs: string[];
  emptyBefore: string;
  /** Archived WAL older than the first segment any kept base backup needs. */
  wal: { keys: string[]; before?: string };
  /** What removing the named backups means beyond the backups themselves (point-in-time restore lost), one sentence each. */
  notes: string[];
}

const NAMED = 'named with --backup';

export async function planExpire(repo: Repository, policy: ExpirePolicy, orphanGraceMs: number, now = new Date()): Promise<ExpirePlan> {
  const cat = await repo.catalog();
  const named = new Set(policy.remove ?? []);
  checkNamedInCatalog(repo, cat, named);
  const decision = decide(cat, policy, named, now);
  const cutoff = now.getTime() - orphanGraceMs;
  const orphans: ExpirePlan['orphans'] = [];
  const notOrphans: ExpirePlan['notOrphans'] = [];
  for (const o of cat.orphans.filter((x) => x.newest.getTime() < cutoff)) {
    // A listing can miss an object that exists (an S3-compatible store whose listing lags its
    // writes): the manifest is asked for by name before its backup is called incomplete.
    if (await repo.hasManifest(o.id)) notOrphans.push({ id: o.id, why: 'its manifest exists, though the listing did not show it' });
    else orphans.push({ id: o.id, objects: o.keys.length, newest: o.newest.toISOString() });
  }
  const tempFiles = (await repo.tempFiles()).filter((t) => t.mtime.getTime() < cutoff).map((t) => t.key);
  const emptyDirs = (await repo.storage.emptyDirs?.('backups/', new Date(cutoff), false)) ?? [];
  const kept = new Set(decision.keep.map((k) => k.id));
  const wal = await planWal(repo, cat, kept);
  const notes = lastBaseNotes(cat.backups.filter(isBase), named, kept);
  return { ...decision, orphans, notOrphans, tempFiles, emptyDirs, emptyBefore: new Date(cutoff).toISOString(), wal, notes };
}

/**
 * The archived WAL no kept base backup needs: everything below the oldest kept base backup's
 * first segment, of whichever cluster; none while no base backup is kept. A cluster that no
 * longer backs up here (replaced by pg_upgrade, retired) holds WAL back through its last base
 * backup until that is removed by name (`--backup`). Telling such a cluster from one that still
 * archives here on a slower cadence is not possible from the catalog (archived WAL does not
 * record its cluster), and a wrong guess would delete WAL a point-in-time restore needs.
 */
async function planWal(repo: Repository, cat: Catalog, kept: ReadonlySet<string>): Promise<ExpirePlan['wal']> {
  const keptBases = cat.backups.filter(isBase).filter((b) => kept.has(b.id));
  if (!keptBases.length) return { keys: [] };
  const oldest = keptBases.reduce((a, b) => (segmentOf(b, b.pg.walStart) < segmentOf(a, a.pg.walStart) ? b : a));
  const unneeded = (await listWal(repo)).filter((w) => {
    const kind = walFileKind(w.name);
    if (kind !== 'segment' && kind !== 'partial' && kind !== 'backup') return false;
    // Each base's own segment size numbers the files it needs (a cluster may be replaced by
    // one initialised with another size).
    return keptBases.every((b) => segmentOf(b, w.name.slice(0, 24)) < segmentOf(b, b.pg.walStart));
  });
  return { keys: unneeded.map((w) => w.key), before: oldest.pg.walStart };
}

/**
 * Refuses "latest" and ids without a manifest before anything is locked or removed; the plan,
 * under the lock, checks again against the catalog it is made from.
 */
export async function checkNamedBackups(repo: Repository, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    refuseLatest(id);
    // An id is one path segment: anything else cannot be a backup here, and is not looked up.
    const plausible = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id);
    if (plausible && (await repo.hasManifest(id))) continue;
    throw noSuchBackup(repo, id, plausible && (await repo.storage.list(`backups/${id}/`)).length > 0);
  }
}

function refuseLatest(id: string): void {
  // Whatever is newest when the command runs (a backup may have finished a second ago) is no
  // way to say what to delete.
  if (id === 'latest') throw new UsageError('usage.backup', '--backup latest: expire removes backups only by their id (see drctl backups list), not "latest"');
}

function noSuchBackup(repo: Repository, id: string, incomplete: boolean): UsageError {
  if (incomplete) {
    return new UsageError('usage.backup', `--backup ${id}: an incomplete backup in ${repo.storage.location} (no manifest); expire removes it without --backup once it is older than --orphan-grace`);
  }
  return new UsageError('usage.backup', `--backup ${id}: no such backup in ${repo.storage.location} (see drctl backups list)`);
}

function checkNamedInCatalog(repo: Repository, cat: Catalog, named: ReadonlySet<string>): void {
  for (const id of named) {
    refuseLatest(id);
    if (cat.backups.some((b) => b.id === id) || cat.damaged.some((d) => d.id === id)) continue;
    throw noSuchBackup(repo, id, cat.orphans.some((o) => o.id === id));
  }
}

/**
 * The named backups go, then retention counts what is left: `--keep-last 2` with the newest
 * named keeps the two before it, and a database whose every backup is named is gone. A named
 * backup whose manifest cannot be trusted goes too: nothing else ever removes it.
 */
function decide(cat: Catalog, policy: RetentionPolicy, named: ReadonlySet<string>, now: Date): RetentionDecision {
  const retention = decideRetention(cat.backups.filter((b) => !named.has(b.id)), policy, now);
  const byName = [
    ...cat.backups.filter((b) => named.has(b.id)).map((b) => ({ id: b.id, why: NAMED })),
    ...cat.damaged.filter((d) => named.has(d.id)).map((d) => ({ id: d.id, why: `${NAMED}; not listed: ${d.problem}` })),
  ];
  return { keep: retention.keep, remove: [...byName, ...retention.remove] };
}

type Base = Manifest & { pg: NonNullable<Manifest['pg']> };

function isBase(b: Manifest): b is Base {
  return b.kind === 'base' && b.pg !== undefined;
}

function segmentOf(b: Base, walName: string): bigint {
  return segmentNumber(walName, Number(b.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE));
}

/** A note for each cluster whose every base backup is named: no point-in-time restore of it after this. */
function lastBaseNotes(bases: Base[], named: ReadonlySet<string>, kept: ReadonlySet<string>): string[] {
  const groups = [...bySource(bases).values()];
  const labels = distinctLabels(groups.map((g) => g.source));
  const notes: string[] = [];
  groups.forEach((g, i) => {
    const gone = g.backups.filter((b) => named.has(b.id)).map((b) => b.id);
    if (!gone.length || g.backups.some((b) => kept.has(b.id))) return;
    const them = gone.length > 1 ? `${gone.join(', ')} are the last base backups` : `${gone[0]} is the last base backup`;
    notes.push(`${them} of ${labels[i]}: point-in-time restore of it will no longer be possible`);
  });
  if (notes.length && !bases.some((b) => kept.has(b.id))) {
    notes.push('no base backup is left: expire removes no archived WAL until a base backup is kept again');
  }
  return notes;
}

/**
 * Plans, shows the plan, and with `confirm` applies it, all under the repository lock. Returns
 * the plan and the orphans left in place because their manifest turned up while removing.
 */
export async function expire(
  repo: Repository,
  policy: ExpirePolicy,
  orphanGraceMs: number,
  o: { confirm: boolean; show?: (plan: ExpirePlan) => void },
): Promise<{ plan: ExpirePlan; spared: string[] }> {
  if (policy.remove?.length) await checkNamedBackups(repo, policy.remove);
  const release = o.confirm ? await repo.lock('expire') : undefined;
  try {
    const plan = await planExpire(repo, policy, orphanGraceMs);
    o.show?.(plan);
    return { plan, spared: o.confirm ? await applyExpire(repo, plan) : [] };
  } finally {
    await release?.();
  }
}

/** Applies a plan made under the lock the caller still holds; returns the orphans it spared. */
async function applyExpire(repo: Repository, plan: ExpirePlan): Promise<string[]> {
  const spared: string[] = [];
  for (const b of plan.remove) await repo.removeBackup(b.id);
  for (const o of plan.orphans) if (!(await repo.removeOrphan(o.id))) spared.push(o.id);
  for (const t of plan.tempFiles) await repo.storage.remove(t);
  // Found again (as old as the plan allowed): directories inside them go with them.
  if (plan.emptyDirs.length) await repo.storage.emptyDirs?.('backups/', new Date(plan.emptyBefore), true);
  for (const k of plan.wal.keys) await repo.storage.remove(k);
  return spared;
}
