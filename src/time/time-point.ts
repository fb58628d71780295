import { UsageError } from '../errors.js';
import { tryParseDuration } from './duration.js';

// Points in time for --pitr and friends: ISO 8601 with an explicit offset, "5 minutes ago",
// "now-5m", "now". A time without an offset is refused rather than guessed: at 3 a.m. the
// server's local zone is the wrong default more often than not. Each field is checked, because
// Date.parse rolls an impossible date over (February 30th becomes March 2nd) without a word.
const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/** True for the forms that depend on when they are read: "now", "10 minutes ago", "now-10m". */
export function isRelativeTime(text: string): boolean {
  const t = text.trim();
  return /^now$/i.test(t) || /^.+?\s+ago$/i.test(t) || /^now\s*-\s*.+$/i.test(t);
}

/** The absolute instant a user meant, relative to `now`. */
export function parseTimePoint(text: string, what = '--pitr', now: Date = new Date()): Date {
  const t = text.trim();
  if (/^now$/i.test(t)) return new Date(now);
  const ago = /^(.+?)\s+ago$/i.exec(t);
  const nowMinus = /^now\s*-\s*(.+)$/i.exec(t);
  const rel = ago?.[1] ?? nowMinus?.[1];
  if (rel !== undefined) {
    const ms = tryParseDuration(rel);
    if (ms === undefined) throw new UsageError('usage.time', `${what}: "${text}" is not a time (bad duration "${rel}")`);
    return new Date(now.getTime() - ms);
  }
  const m = ISO_WITH_OFFSET.exec(t);
  if (m) {
    const bad = impossible(m);
    if (bad) throw new UsageError('usage.time', `${what}: "${text}" is not a real time: ${bad}`);
    let iso = t.replace(' ', 'T').replace(/\s+/g, '');
    iso = iso.replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t)) {
    throw new UsageError('usage.time', `${what}: "${text}" has no time zone; add Z or an offset such as +01:00`);
  }
  throw new UsageError('usage.time', `${what}: "${text}" is not a time (use ISO 8601 like 2026-11-23T09:41:00Z, "10 minutes ago" or now-10m)`
  );
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Why the fields of an ISO time name no real instant, or undefined when they do. */
function impossible(m: RegExpExecArray): string | undefined {
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month! < 1 || month! > 12) return `month ${m[2]} (months are 01 to 12)`;
  const days = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (day! < 1 || day! > days) return `day ${m[3]}: ${MONTHS[month! - 1]} ${year} has ${days} days`;
  if (hour! > 23) return `hour ${m[4]} (hours are 00 to 23)`;
  if (minute! > 59) return `minute ${m[5]} (minutes are 00 to 59)`;
  if (second > 59) return `second ${m[6]} (seconds are 00 to 59)`;
  const zone = m[8]!;
  if (!/^z$/i.test(zone)) {
    const zh = Number(zone.slice(1, 3));
    const zm = zone.length > 3 ? Number(zone.slice(-2)) : 0;
    if (zh > 14 || zm > 59 || (zh === 14 && zm > 0)) return `offset ${zone} (offsets run from -12:00 to +14:00)`;
  }
  return undefined;
}

/** PostgreSQL's recovery_target_time form: "YYYY-MM-DD HH:MM:SS.mmm+00". */
export function toPostgresTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '+00');
}
