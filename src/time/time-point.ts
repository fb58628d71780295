import { UsageError } from '../errors.js';
import { tryParseDuration } from './duration.js';

// Points in time for --pitr and friends: ISO 8601 with an explicit offset, "5 minutes ago",
// "now-5m", "now". A time without an offset is refused rather than guessed: at 3 a.m. the
// server's local zone is the wrong default more often than not.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$/i;

/** The absolute instant a user meant, relative to `now`. */
export function parseTimePoint(text: string, what = '--pitr', now: Date = new Date()): Date {
  const t = text.trim();
  if (/^now$/i.test(t)) return new Date(now);
  const ago = /^(.+?)\s+ago$/i.exec(t);
  const nowMinus = /^now\s*-\s*(.+)$/i.exec(t);
  const rel = ago?.[1] ?? nowMinus?.[1];
  if (rel !== undefined) {
    const ms = tryParseDuration(rel);
    if (ms === undefined) throw new UsageError(`${what}: "${text}" is not a time (bad duration "${rel}")`, 'usage.time');
    return new Date(now.getTime() - ms);
  }
  if (ISO_WITH_OFFSET.test(t)) {
    let iso = t.replace(' ', 'T').replace(/\s+/g, '');
    iso = iso.replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(t)) {
    throw new UsageError(`${what}: "${text}" has no time zone; add Z or an offset such as +01:00`, 'usage.time');
  }
  throw new UsageError(
    `${what}: "${text}" is not a time (use ISO 8601 like 2026-11-23T09:41:00Z, "10 minutes ago" or now-10m)`,
    'usage.time',
  );
}

/** PostgreSQL's recovery_target_time form: "YYYY-MM-DD HH:MM:SS.mmm+00". */
export function toPostgresTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '+00');
}
