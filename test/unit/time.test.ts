import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { formatDuration, parseDuration, tryParseDuration } from '../../src/time/duration.js';
import { parseTimePoint, toPostgresTime } from '../../src/time/time-point.js';

describe('durations', () => {
  it('parses the forms runbooks use', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration(30)).toBe(30_000);
  });
  it('refuses bare numbers in strings, negatives and words', () => {
    expect(tryParseDuration('10')).toBeUndefined();
    expect(tryParseDuration('-5m')).toBeUndefined();
    expect(tryParseDuration('soon')).toBeUndefined();
    expect(() => parseDuration('soon', '--max-age')).toThrow(UsageError);
    expect(() => parseDuration('soon', '--max-age')).toThrow('--max-age: "soon" is not a duration');
  });
  it('formats for humans', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_345)).toBe('12.3s');
    expect(formatDuration(245_000)).toBe('4m05s');
    expect(formatDuration(7_380_000)).toBe('2h03m');
  });
});

describe('points in time', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it('parses ISO 8601 with an offset, relative forms and now', () => {
    expect(parseTimePoint('2026-11-23T09:41:00Z', '--pitr', now).toISOString()).toBe('2026-11-23T09:41:00.000Z');
    expect(parseTimePoint('2026-11-23 09:41:00Z', '--pitr', now).toISOString()).toBe('2026-11-23T09:41:00.000Z');
    expect(parseTimePoint('2026-11-23T10:41:00+01:00', '--pitr', now).toISOString()).toBe('2026-11-23T09:41:00.000Z');
    expect(parseTimePoint('2026-11-23 10:41:00.250+0100', '--pitr', now).toISOString()).toBe('2026-11-23T09:41:00.250Z');
    expect(parseTimePoint('10 minutes ago', '--pitr', now).toISOString()).toBe('2026-11-23T09:50:00.000Z');
    expect(parseTimePoint('now-5m', '--pitr', now).toISOString()).toBe('2026-11-23T09:55:00.000Z');
    expect(parseTimePoint('now', '--pitr', now).toISOString()).toBe('2026-11-23T10:00:00.000Z');
  });
  it('refuses a time without a zone rather than guessing', () => {
    expect(() => parseTimePoint('2026-11-23 09:41:00', '--pitr', now)).toThrow('has no time zone');
    expect(() => parseTimePoint('yesterday-ish', '--pitr', now)).toThrow(UsageError);
  });
  it('formats recovery_target_time the way PostgreSQL wants it', () => {
    expect(toPostgresTime(new Date('2026-11-23T09:41:00.123Z'))).toBe('2026-11-23 09:41:00.123+00');
  });
});
