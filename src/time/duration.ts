import parse from 'parse-duration';
import { UsageError } from '../errors.js';

// Durations in runbooks and flags: "90s", "15m", "1h30m", "2d", "500ms". A unit is required:
// a bare "10" is ambiguous (parse-duration reads it as milliseconds, users mean seconds).
const HAS_UNIT = /[a-zµ]/i;

/** Milliseconds of a duration string, or undefined when it is not one. */
export function tryParseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined;
  const trimmed = text.trim();
  if (!trimmed || !HAS_UNIT.test(trimmed) || trimmed.startsWith('-')) return undefined;
  const ms = parse(trimmed);
  return ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0 ? undefined : ms;
}

/** Milliseconds of a duration, or a UsageError naming what was given. */
export function parseDuration(text: string | number, what = 'duration'): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new UsageError('usage.duration', `${what}: "${text}" is not a duration (use e.g. 90s, 15m, 1h30m, 2d)`);
  }
  return ms;
}

/** A short human form: 850ms, 12.3s, 4m05s, 2h03m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m${String(totalS % 60).padStart(2, '0')}s`;
  const totalM = Math.floor(totalS / 60);
  if (totalM < 48 * 60) return `${Math.floor(totalM / 60)}h${String(totalM % 60).padStart(2, '0')}m`;
  return `${Math.floor(totalM / 1440)}d${String(Math.floor((totalM % 1440) / 60)).padStart(2, '0')}h`;
}
