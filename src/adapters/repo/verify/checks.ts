import type { DbStats, Manifest } from '../../../repository/manifest.js';
import { backupSource } from '../../../repository/source.js';
import { formatBytes } from '../../../format.js';
import { formatDuration } from '../../../time/duration.js';

// The verification checks that only read manifests: pure, each returning a named result with
// its figure, so cron output and the history say exactly what was measured.

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** The measured figure, e.g. "age 2h10m (max 24h00m)". */
  figure: string;
  backup?: string;
}

export interface VerifyOptions {
  maxAgeMs: number;
  /** Fail when the newest backup is smaller than this fraction of the median of earlier ones. */
  sizeBand: number;
  /** Allowed relative change of a table's row count from the previous backup. */
  rowTolerance: number;
  criticalTables: string[];
  databases: string[];
}

/** The planner's row estimates for large tables are good to a few percent after ANALYZE. */
const ESTIMATE_TOLERANCE = 0.1;

const pass = (name: string, figure: string, backup?: string): CheckResult => ({ name, status: 'pass', figure, backup });
const fail = (name: string, figure: string, backup?: string): CheckResult => ({ name, status: 'fail', figure, backup });
const skip = (name: string, figure: string): CheckResult => ({ name, status: 'skip', figure });

/** Backups of one database and kind (one source, see source.ts), oldest first. */
export function series(backups: Manifest[], of: Manifest): Manifest[] {
  const key = backupSource(of).key;
  return backups.filter((b) => backupSource(b).key === key);
}

export function existenceChecks(backups: Manifest[], o: VerifyOptions): CheckResult[] {
  if (!o.databases.length) {
    const newest = backups[backups.length - 1];
    return [newest ? pass('backup-exists', `${backups.length} backup(s), newest ${newest.id}`, newest.id) : fail('backup-exists', 'the repository holds no backup')];
  }
  return o.databases.map((db) => {
    const mine = backups.filter((b) => b.source.database === db);
    const newest = mine[mine.length - 1];
    return newest ? pass(`backup-exists:${db}`, `${mine.length} backup(s) of ${db}, newest ${newest.id}`, newest.id) : fail(`backup-exists:${db}`, `no backup of database ${db}`);
  });
}

export function ageCheck(newest: Manifest | undefined, o: VerifyOptions, now: Date): CheckResult {
  if (!newest) return skip('backup-age', 'no backup');
  const age = now.getTime() - Date.parse(newest.stoppedAt);
  const figure = `age ${formatDuration(age)} (max ${formatDuration(o.maxAgeMs)})`;
  return age <= o.maxAgeMs ? pass('backup-age', figure, newest.id) : fail('backup-age', `${figure}: stale`, newest.id);
}

export function sizeCheck(newest: Manifest | undefined, backups: Manifest[], o: VerifyOptions): CheckResult {
  if (!newest) return skip('backup-size', 'no backup');
  const earlier = series(backups, newest).filter((b) => b.id !== newest.id).slice(-5);
  if (!earlier.length) return skip('backup-size', `size ${formatBytes(newest.size)}; no earlier backup to compare with`);
  const sizes = earlier.map((b) => b.size).sort((a, b) => a - b);
  const median = sizes.length % 2 ? sizes[(sizes.length - 1) / 2]! : (sizes[sizes.length / 2 - 1]! + sizes[sizes.length / 2]!) / 2;
  const figure = `size ${formatBytes(newest.size)}, median of ${earlier.length} earlier ${formatBytes(median)} (min ${Math.round(o.sizeBand * 100)}%)`;
  return newest.size >= median * o.sizeBand ? pass('backup-size', figure, newest.id) : fail('backup-size', `${figure}: sudden drop`, newest.id);
}

const tableKey = (t: { schema: string; name: string }) => (t.schema === 'public' ? t.name : `${t.schema}.${t.name}`);

/**
 * The tables named critical, each present in the newest backup of at least one database: a
 * repository may hold several databases, and `--critical-tables` names tables of any of them.
 */
export function criticalTablesCheck(newest: Manifest[], critical: string[]): CheckResult {
  const withStats = newest.filter((b) => b.stats);
  if (!withStats.length) return skip('critical-tables', 'no statistics recorded');
  const have = new Set(withStats.flatMap((b) => b.stats!.tables.map(tableKey)));
  const missing = critical.filter((t) => !have.has(t) && !have.has(t.replace(/^public\./, '')));
  const ids = withStats.map((b) => b.id).join(', ');
  return missing.length ? fail('critical-tables', `missing: ${missing.join(', ')}`, ids) : pass('critical-tables', `${critical.length} present`, ids);
}

/** What changed in the data since the previous backup of the same database. */
export function driftChecks(newest: Manifest | undefined, backups: Manifest[], o: VerifyOptions): CheckResult[] {
  const stats = newest?.stats;
  if (!newest || !stats) return [skip('tables', 'no statistics recorded')];
  const previous = series(backups, newest).filter((b) => b.id !== newest.id && b.stats).pop();
  if (!previous?.stats) return [skip('tables', `${stats.tables.length} table(s); no earlier backup with statistics to compare with`)];
  return compareStats(previous.stats, stats, o.rowTolerance, `since ${previous.id}`, newest.id);
}

/** Tables, rows, functions and policies of `after` against `before`. */
export function compareStats(before: DbStats, after: DbStats, rowTolerance: number, since: string, backup: string): CheckResult[] {
  const key = tableKey;
  const now = new Map(after.tables.map((t) => [key(t), t.rows]));
  const estimated = new Set([...before.tables, ...after.tables].filter((t) => t.estimated).map(key));
  const dropped = before.tables.filter((t) => !now.has(key(t))).map(key);
  const out: CheckResult[] = [];
  out.push(dropped.length ? fail('tables', `dropped ${since}: ${dropped.join(', ')}`, backup) : pass('tables', `${after.tables.length} table(s), none dropped ${since}`, backup));
  const shifted = before.tables
    .filter((t) => now.has(key(t)))
    .map((t) => ({ name: key(t), was: t.rows, is: now.get(key(t))! }))
    .filter((t) => t.was > 0 && Math.abs(t.is - t.was) / t.was > (estimated.has(t.name) ? Math.max(rowTolerance, ESTIMATE_TOLERANCE) : rowTolerance));
  out.push(
    shifted.length
      ? fail('row-counts', `beyond ±${Math.round(rowTolerance * 100)}% ${since}: ${shifted.map((t) => `${t.name} ${t.was} → ${t.is}`).join(', ')}`, backup)
      : pass('row-counts', `every table within ±${Math.round(rowTolerance * 100)}% ${since}`, backup),
  );
  const missingFns = before.functions.filter((f) => !after.functions.includes(f));
  out.push(missingFns.length ? fail('functions', `missing ${since}: ${missingFns.join(', ')}`, backup) : pass('functions', `${after.functions.length} present`, backup));
  const missingPol = before.policies.filter((p) => !after.policies.includes(p));
  out.push(missingPol.length ? fail('policies', `row-level-security policies missing ${since}: ${missingPol.join(', ')}`, backup) : pass('policies', `${after.policies.length} present`, backup));
  return out;
}
