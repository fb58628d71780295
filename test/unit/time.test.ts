import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { formatDuration, parseDuration, tryParseDuration } from '../../src/time/duration.js';
import { isRelativeTime, parseTimePoint, toPostgresTime } from '../../src/time/time-point.js';
import { resolveInputs } from '../../src/engine/inputs.js';
import { parseRunbook } from '../../src/runbook/load.js';
import { builtInRegistry } from '../../src/adapters/registry.js';

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
  it('refuses an impossible date or time with the reason, instead of rolling it over', () => {
    const refused: [string, string][] = [
      ['2026-02-30T09:41:00Z', 'day 30: February 2026 has 28 days'],
      ['2028-02-30T09:41:00Z', 'day 30: February 2028 has 29 days'],
      ['2026-04-31 09:41:00+02:00', 'day 31: April 2026 has 30 days'],
      ['2026-13-01T09:41:00Z', 'month 13'],
      ['2026-00-10T09:41:00Z', 'month 00'],
      ['2026-11-00T09:41:00Z', 'day 00'],
      ['2026-11-23T25:00:00Z', 'hour 25 (hours are 00 to 23)'],
      ['2026-11-23T24:00:00Z', 'hour 24'],
      ['2026-11-23T09:60:00Z', 'minute 60'],
      ['2026-11-23T09:41:61Z', 'second 61'],
      ['2026-11-23T09:41:00+15:00', 'offset +15:00'],
      ['2026-11-23T09:41:00+01:75', 'offset +01:75'],
    ];
    for (const [text, reason] of refused) {
      expect(() => parseTimePoint(text, '--pitr', now), text).toThrow(UsageError);
      expect(() => parseTimePoint(text, '--pitr', now), text).toThrow(`--pitr: "${text}" is not a real time: ${reason}`);
    }
    // Leap day and the last second of a day are real.
    expect(parseTimePoint('2028-02-29T23:59:59Z', '--pitr', now).toISOString()).toBe('2028-02-29T23:59:59.000Z');
    expect(parseTimePoint('2026-11-23T09:41:00-12:00', '--pitr', now).toISOString()).toBe('2026-11-23T21:41:00.000Z');
  });
  it('tells relative forms from absolute ones', () => {
    for (const t of ['now', '10 minutes ago', 'now-5m', 'NOW - 1h']) expect(isRelativeTime(t), t).toBe(true);
    for (const t of ['2026-11-23T09:41:00Z', 'latest', 'nowhere']) expect(isRelativeTime(t), t).toBe(false);
  });
  it('formats recovery_target_time the way PostgreSQL wants it', () => {
    expect(toPostgresTime(new Date('2026-11-23T09:41:00.123Z'))).toBe('2026-11-23 09:41:00.123+00');
  });
});

describe('time inputs', () => {
  const rb = parseRunbook(
    'apiVersion: drctl/v1\nname: t\ninputs:\n  at: { type: time }\n  until: { type: time, default: latest }\nsteps:\n  - id: a\n    uses: shell.run\n    with: { command: "true" }\n',
    't.yaml',
    builtInRegistry(),
  ).runbook;
  const now = new Date('2026-11-23T10:00:00Z');
  it('are resolved against the one instant of the run, to UTC ISO 8601; latest stays latest', () => {
    expect(resolveInputs(rb, { at: '10 minutes ago' }, {}, { now })).toEqual({ at: '2026-11-23T09:50:00.000Z', until: 'latest' });
    expect(resolveInputs(rb, { at: '2026-11-23 10:41:00+01:00', until: 'now-1h' }, {}, { now })).toEqual({ at: '2026-11-23T09:41:00.000Z', until: '2026-11-23T09:00:00.000Z' });
  });
  it('refuse an impossible time naming the input', () => {
    expect(() => resolveInputs(rb, { at: '2026-02-30T09:41:00Z' }, {}, { now })).toThrow('--var at: "2026-02-30T09:41:00Z" is not a real time: day 30: February 2026 has 28 days');
  });
});
