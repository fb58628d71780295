import { UsageError } from '../errors.js';
import { listWal } from './wal-archive.js';
import { DEFAULT_SEGMENT_SIZE, segmentNumber, walFileKind, type WalObject } from './wal-names.js';
import type { Manifest } from '../repository/manifest.js';
import type { Catalog, Repository } from '../repository/repository.js';
import { decideRetention, type RetentionDecision, type RetentionPolicy } from '../repository/retention.js';
import { backupSource, bySource, distinctLabels } from '../repository/source.js';

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
  const wal = await planWal(repo, cat, policy, named, kept, now);
  const notes = lastBaseNotes(cat.backups.filter(isBase), named, kept);
  return { ...decision, orphans, notOrphans, tempFiles, emptyDirs, emptyBefore: new Date(cutoff).toISOString(), wal, notes };
}

/** The archived WAL no kept base backup needs (see unneededWal); none while no base backup is kept. */
async function planWal(repo: Repository, cat: Catalog, policy: RetentionPolicy, named: ReadonlySet<string>, kept: ReadonlySet<string>, now: Date): Promise<ExpirePlan['wal']> {
  const bases = cat.backups.filter(isBase);
  const keptBases = bases.filter((b) => kept.has(b.id));
  if (!keptBases.length) return { keys: [] };
  const files = await listWal(repo);
  const retiredAfter = retiredClusters(keptBases);
  const unneeded = unneededWal(files, keptBases, retiredAfter);
  if (bases.some((b) => named.has(b.id))) {
    // Which clusters looked retired with retention alone, before any base backup was named.
    const alone = new Set(decideRetention(cat.backups, policy, now).keep.map((k) => k.id));
    const retiredBefore = retiredClusters(bases.filter((b) => alone.has(b.id)));
    refuseReclassified({ bases, named, keptBases, retiredBefore, retiredAfter, files, unneeded: unneeded.length });
  }
  return { keys: unneeded.map((w) => w.key), before: oldestLiveStart(keptBases, retiredAfter) };
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

/** Each base's own segment size numbers the files it needs (a cluster may be replaced by one initialised with another size). */
function segmentOf(b: Base, walName: string): bigint {
  return segmentNumber(walName, Number(b.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE));
}

/**
 * The clusters (source keys) taken for retired: those whose kept base backups all ended before
 * the newest cluster's kept ones began (replaced by pg_upgrade, retired). `bases` oldest first.
 */
function retiredClusters(bases: Base[]): Set<string> {
  const groups = [...bySource(bases).entries()];
  const newest = groups.find(([, g]) => g.backups.includes(bases[bases.length - 1]!))![1];
  const takeover = Date.parse(newest.backups[0]!.startedAt);
  return new Set(groups.filter(([, g]) => g !== newest && Date.parse(g.backups[g.backups.length - 1]!.stoppedAt) < takeover).map(([key]) => key));
}

/**
 * WAL is kept from the oldest kept base backup on; with no base backup kept, all of it (the
 * caller does not ask). A retired cluster keeps its kept base backups restorable (the WAL from
 * each one's start to its stop) but does not hold back expiry for ever; every other cluster
 * counts in full, from its oldest kept base backup's start.
 */
function unneededWal(files: WalObject[], kept: Base[], retired: ReadonlySet<string>): WalObject[] {
  const isRetired = (b: Base) => retired.has(backupSource(b).key);
  const live = kept.filter((b) => !isRetired(b)).map((b) => ({ b, from: segmentOf(b, b.pg.walStart) }));
  const needed = kept.filter(isRetired).map((b) => ({ b, from: segmentOf(b, b.pg.walStart), to: segmentOf(b, b.pg.walStop) }));
  return files.filter((w) => {
    const kind = walFileKind(w.name);
    if (kind !== 'segment' && kind !== 'partial' && kind !== 'backup') return false;
    const name = w.name.slice(0, 24);
    if (!live.every((l) => segmentOf(l.b, name) < l.from)) return false;
    return !needed.some((r) => {
      const n = segmentOf(r.b, name);
      return n >= r.from && n <= r.to;
    });
  });
}

function oldestLiveStart(kept: Base[], retired: ReadonlySet<string>): string {
  const live = kept.filter((b) => !retired.has(backupSource(b).key));
  return live.reduce((a, b) => (segmentOf(b, b.pg.walStart) < segmentOf(a, a.pg.walStart) ? b : a)).pg.walStart;
}

/**
 * Whether a cluster is retired is judged from the base backups kept, so removing base backups
 * by name can turn a cluster that still backs up here into a "retired" one: its newest base
 * backup named, or the newest cluster's oldest, or that cluster's every one. Its WAL past its
 * newest remaining base backup would then go, though point-in-time restore from that base backup
 * needs it, in this run and every later one (the catalog left behind looks the same as a real
 * retirement). Refused instead, naming the way out, when WAL would actually go for it.
 */
function refuseReclassified(o: {
  bases: Base[];
  named: ReadonlySet<string>;
  keptBases: Base[];
  retiredBefore: ReadonlySet<string>;
  retiredAfter: ReadonlySet<string>;
  files: WalObject[];
  /** How many WAL files the plan removes. */
  unneeded: number;
}): void {
  const { bases, named, keptBases, retiredBefore, retiredAfter } = o;
  const turned = [...retiredAfter].filter((key) => !retiredBefore.has(key));
  if (!turned.length) return;
  const spared = unneededWal(o.files, keptBases, new Set([...retiredAfter].filter((key) => retiredBefore.has(key))));
  const lost = o.unneeded - spared.length;
  if (lost <= 0) return;
  const groups = [...bySource(bases).values()];
  const labels = distinctLabels(groups.map((g) => g.source));
  const labelOf = (key: string) => labels[groups.findIndex((g) => g.source.key === key)]!;
  const which = turned.map((key) => `${labelOf(key)}, newest ${keptBases.filter((b) => backupSource(b).key === key).pop()!.id},`).join(' and ');
  const ids = bases.filter((b) => named.has(b.id)).map((b) => b.id);
  const [that, its, it] = turned.length > 1 ? ['those clusters', 'their', 'them'] : ['that cluster', 'its', 'it'];
  throw new UsageError(
    'usage.backup',
    `--backup ${ids.join(' --backup ')}: without ${ids.length > 1 ? 'these base backups' : 'it'}, the base backups left of ${which} end before the newest cluster's begin, so expire would take ${that} for replaced by a newer one and remove ${lost} archived WAL file(s) that point-in-time restore from ${its} remaining base backups needs; take a new base backup of ${that} first, or name all of ${its} base backups to remove ${it} too`,
  );
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
