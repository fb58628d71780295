import type { Bucket } from './bucket.js';
import { s3Failure } from './bucket.js';

// The version history of every key under a prefix, one key at a time, and what bringing a key
// back to a point in time means for it. ListObjectVersions is sorted by key, so a key is
// complete once a page ends past it: memory holds one page and one key, not the bucket.

export interface VersionEntry {
  versionId: string;
  lastModified: number;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
}

export interface KeyHistory {
  key: string;
  /** Newest first. */
  entries: VersionEntry[];
}

export type ChangeAction = 'overwrite' | 'undelete' | 'delete-newer' | 'keep-newer';

export interface Change {
  key: string;
  action: ChangeAction;
  /** The version to copy back (overwrite, undelete). */
  versionId?: string;
  /** Bytes copied (overwrite, undelete) or hidden (delete-newer, keep-newer). */
  bytes: number;
  etag?: string;
  /** The current version, when its content has to be looked at to tell a finished restore. */
  currentVersionId?: string;
  currentEtag?: string;
}

/** What the key needs so that its current state is the one at `target` (undefined: nothing). */
export function planKey(h: KeyHistory, target: number, deleteNewer: boolean): Change | undefined {
  const current = h.entries.find((e) => e.isLatest) ?? h.entries[0];
  const atTarget = h.entries.find((e) => e.lastModified <= target);
  if (!current) return undefined;
  const absentAtTarget = !atTarget || atTarget.deleteMarker;
  if (absentAtTarget) {
    if (current.deleteMarker) return undefined;
    return { key: h.key, action: deleteNewer ? 'delete-newer' : 'keep-newer', bytes: current.size };
  }
  if (current.deleteMarker) return { key: h.key, action: 'undelete', versionId: atTarget.versionId, bytes: atTarget.size, etag: atTarget.etag };
  if (current.versionId === atTarget.versionId) return undefined;
  // Same content already current (a restore that ran before, or the same bytes written again):
  // a single-part ETag is the MD5 of the content, so equal ETags and sizes mean equal bytes.
  if (!isMultipartEtag(atTarget.etag) && current.etag === atTarget.etag && current.size === atTarget.size) return undefined;
  return { key: h.key, action: 'overwrite', versionId: atTarget.versionId, bytes: atTarget.size, etag: atTarget.etag, currentVersionId: current.versionId, currentEtag: current.etag };
}

/** A multipart upload's ETag is not the MD5 of the content ("<md5 of md5s>-<parts>"). */
export function isMultipartEtag(etag: string): boolean {
  return /-\d+"?$/.test(etag);
}

/** Every key under the prefix with its history, in key order. */
export async function* keyHistories(b: Bucket, signal: AbortSignal): AsyncGenerator<KeyHistory> {
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  const pending = new Map<string, VersionEntry[]>();
  for (;;) {
    let page: import('@aws-sdk/client-s3').ListObjectVersionsCommandOutput;
    try {
      page = await b.s3.send(
        new b.sdk.ListObjectVersionsCommand({ Bucket: b.bucket, Prefix: b.prefix || undefined, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw s3Failure(err, b, 'listing object versions');
    }
    for (const v of page.Versions ?? []) {
      if (v.Key === undefined) continue;
      add(pending, v.Key, { versionId: v.VersionId ?? 'null', lastModified: v.LastModified?.getTime() ?? 0, isLatest: v.IsLatest === true, deleteMarker: false, size: v.Size ?? 0, etag: v.ETag ?? '' });
    }
    for (const d of page.DeleteMarkers ?? []) {
      if (d.Key === undefined) continue;
      add(pending, d.Key, { versionId: d.VersionId ?? 'null', lastModified: d.LastModified?.getTime() ?? 0, isLatest: d.IsLatest === true, deleteMarker: true, size: 0, etag: '' });
    }
    const more = page.IsTruncated === true;
    // Only the key the page stopped in can have more versions on the next page.
    const open = more ? page.NextKeyMarker : undefined;
    for (const key of [...pending.keys()].sort(compareKeys)) {
      if (key === open) continue;
      yield { key, entries: newestFirst(pending.get(key)!) };
      pending.delete(key);
    }
    if (!more) return;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}

function add(m: Map<string, VersionEntry[]>, key: string, e: VersionEntry): void {
  const list = m.get(key);
  if (list) list.push(e);
  else m.set(key, [e]);
}

function newestFirst(list: VersionEntry[]): VersionEntry[] {
  // Stable: within one timestamp, S3's own order (newest first) and the current entry lead.
  return list.map((e, i) => ({ e, i })).sort((a, b) => b.e.lastModified - a.e.lastModified || Number(b.e.isLatest) - Number(a.e.isLatest) || a.i - b.i).map((x) => x.e);
}

/** S3 orders keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
