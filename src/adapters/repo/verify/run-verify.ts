import { randomBytes } from 'node:crypto';
import type { ActionContext } from '../../types.js';
import { errorMessage } from '../../../errors.js';
import { planWal } from '../../../pitr/select.js';
import { listWal, recoveryTimeline } from '../../../pitr/wal-archive.js';
import { DEFAULT_SEGMENT_SIZE } from '../../../pitr/wal-names.js';
import type { Manifest } from '../../../repository/manifest.js';
import type { Repository } from '../../../repository/repository.js';
import { formatBytes } from '../../../format.js';
import { writeMetricsFile } from '../../../prometheus-textfile.js';
import { systemClock, type Clock } from '../../../time/clock.js';
import { formatDuration } from '../../../time/duration.js';
import { bySource, distinctLabels } from '../../../repository/source.js';
import { ageCheck, compareStats, criticalTablesCheck, driftChecks, existenceChecks, sizeCheck, type CheckResult, type VerifyOptions } from './checks.js';
import { walReadCheck, type Subset } from './wal-read.js';
import { checkVersioning } from '../../s3/versioning-check.js';

// verify-backups: every check by name with its figure; the result goes to the repository's
// history (history/verify/) and, optionally, a Prometheus textfile.

export interface VerifyRunOptions extends VerifyOptions {
  all: boolean;
  walMaxAgeMs: number;
  testRestore: boolean;
  /** A PostgreSQL URL (a database is created there and dropped), or 'auto'. */
  scratch?: string;
  metricsFile?: string;
  /** Which archived WAL to re-read: all, N% or n/m (restic's --read-data-subset). */
  readDataSubset?: Subset;
  /** What time it is: ages are measured against it, and the result is recorded under it. */
  clock?: Clock;
  /** A versioned S3 prefix whose versioning and lifecycle rules are checked too; unset: skipped. */
  bucket?: { url: string; minNoncurrentDays?: number };
  /** How to turn the bucket check on, for the figure of a skipped one. */
  bucketHowTo?: string;
}

export interface VerifyResult {
  repo: string;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  newest?: { id: string; kind: string; stoppedAt: string; size: number };
  checks: CheckResult[];
}

export async function verifyRepository(ctx: ActionContext, repo: Repository, o: VerifyRunOptions): Promise<VerifyResult> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const now = new Date(started);
  const cat = await repo.catalog();
  const backups = cat.backups;
  const newest = backups[backups.length - 1];
  const checks: CheckResult[] = [];
  const add = (c: CheckResult | CheckResult[]) => {
    for (const x of Array.isArray(c) ? c : [c]) {
      checks.push(x);
      ctx.log(`${x.status === 'pass' ? 'ok  ' : x.status === 'fail' ? 'FAIL' : 'skip'} ${x.name}: ${x.figure}`);
    }
  };

  add(existenceChecks(backups, o));
  for (const d of cat.damaged) add({ name: 'manifest', status: 'fail', figure: `${d.id}: ${d.problem}`, backup: d.id });
  // The newest backup of every database (and kind) the repository holds, each checked as a
  // whole: an hourly dump of one database must not leave another's nightly dump, or the
  // cluster's base backup, unread and unrestored, nor hide that its backups stopped.
  const sources = [...bySource(backups).values()];
  const names = sources.length > 1 ? distinctLabels(sources.map((g) => g.source)) : [];
  const newestOf = sources.map((g) => g.backups[g.backups.length - 1]!);
  const of = (i: number, c: CheckResult | CheckResult[]) => (names[i] === undefined ? c : (Array.isArray(c) ? c : [c]).map((x) => ({ ...x, figure: `${names[i]}: ${x.figure}` })));
  if (!sources.length) add([ageCheck(undefined, o, now), sizeCheck(undefined, backups, o)]);
  newestOf.forEach((b, i) => add(of(i, ageCheck(b, o, now))));
  newestOf.forEach((b, i) => add(of(i, sizeCheck(b, backups, o))));

  // Checksums: every object re-read, decrypted, hashed.
  const toCheck = o.all ? backups : backups.filter((b) => newestOf.includes(b));
  for (const b of toCheck) {
    const t0 = Date.now();
    const i = newestOf.indexOf(b);
    try {
      for (const obj of b.objects) await repo.verifyObject(b, obj, { signal: ctx.signal });
      add(of(i, { name: 'checksums', status: 'pass', figure: `${b.objects.length} object(s), ${formatBytes(b.size)} re-read in ${formatDuration(Date.now() - t0)}`, backup: b.id }));
    } catch (err) {
      add(of(i, { name: 'checksums', status: 'fail', figure: errorMessage(err), backup: b.id }));
    }
  }

  add(await walChecks(ctx, repo, backups, o, now));
  if (o.criticalTables.length) add(criticalTablesCheck(newestOf, o.criticalTables));
  if (!sources.length) add(driftChecks(undefined, backups, o));
  newestOf.forEach((b, i) => add(of(i, driftChecks(b, backups, o))));
  if (o.testRestore) for (const [i, b] of newestOf.entries()) add(of(i, await testRestore(ctx, repo, b, o)));
  add(await bucketCheck(ctx, o));

  const result: VerifyResult = {
    repo: repo.storage.location,
    startedAt: now.toISOString(),
    durationMs: clock.now() - started,
    ok: !checks.some((c) => c.status === 'fail'),
    newest: newest ? { id: newest.id, kind: newest.kind, stoppedAt: newest.stoppedAt, size: newest.size } : undefined,
    checks,
  };
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  await repo.putDocument(`history/verify/${stamp}-${randomBytes(2).toString('hex')}.json`, result);
  if (o.metricsFile) await writeMetrics(o.metricsFile, result, repo);
  return result;
}

async function walChecks(ctx: ActionContext, repo: Repository, backups: Manifest[], o: VerifyRunOptions, now: Date): Promise<CheckResult[]> {
  const bases = backups.filter((b) => b.kind === 'base' && b.pg);
  const newestBase = bases[bases.length - 1];
  if (!newestBase) return [{ name: 'wal-continuity', status: 'skip', figure: 'no base backup' }];
  const wal = await listWal(repo);
  const { timeline, anc } = await recoveryTimeline(repo, wal, { fallback: newestBase.pg!.timeline, signal: ctx.signal });
  const out: CheckResult[] = [];
  try {
    const plan = planWal(newestBase, 'latest', wal, timeline, anc, Number(newestBase.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE));
    const segs = plan.files.filter((f) => f.name.length === 24);
    out.push({ name: 'wal-continuity', status: 'pass', figure: `${segs.length} segment(s) from ${newestBase.pg!.walStart} to ${plan.lastSegment.name}, no gap`, backup: newestBase.id });
    const age = now.getTime() - plan.lastSegment.mtime.getTime();
    const figure = `newest segment ${plan.lastSegment.name} archived ${formatDuration(age)} ago (max ${formatDuration(o.walMaxAgeMs)})`;
    out.push({ name: 'wal-age', status: age <= o.walMaxAgeMs ? 'pass' : 'fail', figure, backup: newestBase.id });
    // Names prove continuity; only reading the data proves it can be replayed.
    out.push(
      await walReadCheck(repo, plan.files, {
        segmentSize: Number(newestBase.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE),
        subset: o.readDataSubset ?? { kind: 'all' },
        since: newestBase.pg!.walStart,
        backup: newestBase.id,
        signal: ctx.signal,
      }),
    );
  } catch (err) {
    out.push({ name: 'wal-continuity', status: 'fail', figure: errorMessage(err), backup: newestBase.id });
  }
  return out;
}

/** Files restored from S3 versions need versioning on and old versions kept as long as promised. */
async function bucketCheck(ctx: ActionContext, o: VerifyRunOptions): Promise<CheckResult> {
  if (!o.bucket) return { name: 's3-versioning', status: 'skip', figure: `not configured${o.bucketHowTo ? ` (set ${o.bucketHowTo})` : ''}` };
  try {
    const r = await checkVersioning(ctx, o.bucket.url, o.bucket.minNoncurrentDays);
    return { name: 's3-versioning', status: r.problems.length ? 'fail' : 'pass', figure: r.problems.length ? `${r.location}: ${r.problems.join('; ')}` : r.figure };
  } catch (err) {
    return { name: 's3-versioning', status: 'fail', figure: errorMessage(err) };
  }
}

async function testRestore(ctx: ActionContext, repo: Repository, m: Manifest, o: VerifyRunOptions): Promise<CheckResult[]> {
  if (!m.stats) return [{ name: 'test-restore', status: 'skip', figure: `${m.id} has no statistics to compare with` }];
  // The kind of backup knows how to restore itself somewhere harmless.
  const kind = ctx.backupKinds.get(m.kind);
  if (!kind?.testRestore) return [{ name: 'test-restore', status: 'skip', figure: `${m.kind} backups have no test restore` }];
  const t0 = Date.now();
  try {
    const stats = await kind.testRestore(ctx, repo, m, { scratch: o.scratch });
    // A logical backup restores its exact snapshot; a base backup is consistent at its end,
    // while its statistics were read as it started, so the tolerance applies.
    const compared = compareStats(m.stats, stats, kind.exactStats ? 0 : o.rowTolerance, 'after the test restore', m.id).map((c) => ({ ...c, name: `restored-${c.name}` }));
    const failed = compared.filter((c) => c.status === 'fail');
    return [
      { name: 'test-restore', status: failed.length ? 'fail' : 'pass', figure: `restored ${m.id} in ${formatDuration(Date.now() - t0)}; ${stats.tables.length} table(s)`, backup: m.id },
      ...compared,
    ];
  } catch (err) {
    return [{ name: 'test-restore', status: 'fail', figure: errorMessage(err), backup: m.id }];
  }
}

/** A verification that could not run at all (no repository, a wrong key) is a failure too. */
export async function writeVerifyErrorMetrics(file: string, url: string | undefined): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await writeMetricsFile(file, (m) => {
    // The repository as the last successful run named it, so its series carry on.
    const known = [...new Set(m.previous.filter((s) => s.name === 'drctl_verify_ok').map((s) => s.labels.repo))];
    const labels = { repo: (known.length === 1 ? known[0] : undefined) ?? url ?? 'unknown' };
    m.gauge('drctl_verify_ok', '1 when the last verification passed every check', labels, 0);
    m.gauge('drctl_verify_last_timestamp_seconds', 'time of the last verification', labels, now);
    m.lastSuccess('drctl_verify_last_success_timestamp_seconds', 'time of the last successful verification', labels, false, now);
  });
}

/** Prometheus textfile (node_exporter's textfile collector), written atomically. */
async function writeMetrics(file: string, r: VerifyResult, repo: Repository): Promise<void> {
  const labels = { repo: repo.storage.location };
  const started = Math.floor(Date.parse(r.startedAt) / 1000);
  await writeMetricsFile(file, (m) => {
    m.gauge('drctl_verify_ok', '1 when the last verification passed every check', labels, r.ok ? 1 : 0);
    m.gauge('drctl_verify_last_timestamp_seconds', 'time of the last verification', labels, started);
    // Kept from the previous file on a failure, so "time since last success" keeps growing.
    m.lastSuccess('drctl_verify_last_success_timestamp_seconds', 'time of the last successful verification', labels, r.ok, started);
    m.gauge('drctl_verify_duration_seconds', 'duration of the last verification', labels, r.durationMs / 1000);
    if (r.newest) {
      m.gauge('drctl_backup_newest_age_seconds', 'age of the newest backup', labels, Math.round((Date.parse(r.startedAt) - Date.parse(r.newest.stoppedAt)) / 1000));
      m.gauge('drctl_backup_newest_size_bytes', 'size of the newest backup', labels, r.newest.size);
    }
    const names = [...new Set(r.checks.filter((c) => c.status !== 'skip').map((c) => c.name))];
    for (const name of names) {
      const ok = r.checks.filter((x) => x.name === name).every((x) => x.status !== 'fail');
      m.gauge('drctl_verify_check_ok', '1 when a check passed, 0 when it failed', { ...labels, check: name }, ok ? 1 : 0);
    }
  });
}
