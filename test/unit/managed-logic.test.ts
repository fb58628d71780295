import { describe, expect, it } from 'vitest';
import { windowProblems } from '../../src/adapters/managed-window.js';
import { postRetry, retryAfterMs } from '../../src/adapters/provider-api.js';
import { isMultipartEtag, planKey, type VersionEntry } from '../../src/adapters/s3/versions.js';

// What bringing one key back to a point in time means, from its version history alone; how long
// a Retry-After asks to wait; when a restore request may be sent again; whether a recovery window keeps the RPO and retention promised.

const T = Date.parse('2026-11-25T09:00:00Z');
const v = (id: string, at: number, o: Partial<VersionEntry> = {}): VersionEntry => ({ versionId: id, lastModified: at, isLatest: false, deleteMarker: false, size: 10, etag: `"${id}"`, ...o });
const marker = (id: string, at: number, o: Partial<VersionEntry> = {}): VersionEntry => v(id, at, { deleteMarker: true, size: 0, etag: '', ...o });
const plan = (entries: VersionEntry[], deleteNewer = false) => planKey({ key: 'k', entries }, T, deleteNewer);

describe('planKey', () => {
  it('overwrites with the version current at the target', () => {
    expect(plan([v('new', T + 1000, { isLatest: true }), v('old', T - 1000)])).toMatchObject({ action: 'overwrite', versionId: 'old', currentVersionId: 'new' });
  });
  it('a version written exactly at the target counts as current then', () => {
    expect(plan([v('new', T + 1000, { isLatest: true }), v('at', T)])).toMatchObject({ action: 'overwrite', versionId: 'at' });
  });
  it('leaves a key alone whose current version is the one at the target', () => {
    expect(plan([v('old', T - 1000, { isLatest: true })])).toBeUndefined();
  });
  it('leaves a key alone whose current content equals the target version (an earlier restore)', () => {
    expect(plan([v('copy', T + 2000, { isLatest: true, etag: '"same"' }), v('new', T + 1000), v('old', T - 1000, { etag: '"same"' })])).toBeUndefined();
  });
  it('does not trust equal ETags of multipart versions', () => {
    const e = '"abc-2"';
    expect(plan([v('copy', T + 2000, { isLatest: true, etag: e }), v('old', T - 1000, { etag: e })])).toMatchObject({ action: 'overwrite' });
  });
  it('brings back a key deleted after the target', () => {
    expect(plan([marker('m', T + 1000, { isLatest: true }), v('old', T - 1000)])).toMatchObject({ action: 'undelete', versionId: 'old' });
  });
  it('keeps or delete-marks a key created after the target', () => {
    const h = [v('new', T + 1000, { isLatest: true })];
    expect(plan(h)).toMatchObject({ action: 'keep-newer' });
    expect(plan(h, true)).toMatchObject({ action: 'delete-newer' });
  });
  it('keeps or delete-marks a key that was deleted at the target and written again since', () => {
    expect(plan([v('new', T + 1000, { isLatest: true }), marker('m', T - 500), v('old', T - 1000)], true)).toMatchObject({ action: 'delete-newer' });
  });
  it('leaves a key alone that was deleted at the target and still is', () => {
    expect(plan([marker('m2', T + 1000, { isLatest: true }), marker('m', T - 500), v('old', T - 1000)], true)).toBeUndefined();
  });
  it('tells multipart ETags', () => {
    expect(isMultipartEtag('"d41d8cd98f00b204e9800998ecf8427e-3"')).toBe(true);
    expect(isMultipartEtag('"d41d8cd98f00b204e9800998ecf8427e"')).toBe(false);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, caps both, ignores nonsense', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('0')).toBe(0);
    expect(retryAfterMs('100000')).toBe(60_000);
    const now = Date.parse('2026-11-25T09:00:00Z');
    expect(retryAfterMs('Wed, 25 Nov 2026 09:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 25 Nov 2026 08:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('postRetry', () => {
  it('sends a restore request again only when the provider certainly did not act on it', () => {
    expect(postRetry(429, undefined, null)).toBe('retry');
    expect(postRetry(503, undefined, '5')).toBe('retry');
    expect(postRetry(0, { notSent: true }, null)).toBe('retry');
  });
  it('a gateway error, a 503 without Retry-After or a connection lost after sending may have started it', () => {
    for (const s of [500, 502, 503, 504]) expect(postRetry(s, undefined, null)).toBe('unsure');
    expect(postRetry(503, undefined, 'soon')).toBe('unsure');
    expect(postRetry(0, { notSent: false }, null)).toBe('unsure');
  });
  it('a refusal (4xx) is final', () => {
    expect(postRetry(400, undefined, null)).toBe('fail');
    expect(postRetry(404, undefined, '5')).toBe('fail');
  });
});

describe('windowProblems', () => {
  const now = T;
  const start = new Date(T - 7 * 86400_000);
  it('passes a window that reaches the present within the RPO and back far enough', () => {
    expect(windowProblems(start, new Date(T - 60_000), { maxAge: '15m', retention: '7d' }, now)).toEqual([]);
  });
  it('names a stale latest point and a short window', () => {
    const p = windowProblems(new Date(T - 86400_000), new Date(T - 3600_000), { maxAge: '15m', retention: '7d' }, now);
    expect(p).toHaveLength(2);
    expect(p[0]).toContain('is 1h00m old (max 15m)');
    expect(p[1]).toContain('less than the 7d promised');
  });
  it('no window at all is a problem only when something was promised', () => {
    expect(windowProblems(undefined, undefined, {}, now)).toEqual([]);
    expect(windowProblems(undefined, undefined, { maxAge: '1h' }, now)).toEqual(['no recovery point at all']);
  });
});
