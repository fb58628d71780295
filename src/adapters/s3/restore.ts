import { z } from 'zod';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { formatBytes } from '../../format.js';
import { parseTimePoint } from '../../time/time-point.js';
import { defineAction, type ActionContext } from '../types.js';
import { openBucket, s3Failure, versioningStatus, type Bucket } from './bucket.js';
import { isMultipartEtag, keyHistories, planKey, type Change } from './versions.js';

// s3.versions.restore: every object under a prefix of a versioned bucket back to the version
// that was current at a point in time. The old version is copied over the current one (S3
// keeps both: the restore itself can be undone the same way); objects deleted since come back;
// objects created since stay unless deleteNewer, which hides them behind a delete marker.
// Without confirm it only says what it would change. A second run finds nothing to do.
// CopyObject stops at 5 GiB: larger versions are copied in ranges (multipart upload of
// UploadPartCopy parts), and an upload that fails is aborted so no hidden parts stay billed.

const COPY_LIMIT = 5 * 1024 ** 3;
const MIN_PART = 5 * 1024 ** 2;
const MAX_PARTS = 10_000;
const DEFAULT_PART = 512 * 1024 ** 2;
const PARALLEL = 8;
/** Ranges of one object copied at once. */
const PART_PARALLEL = 4;
/** Aborts of a failed multipart upload before it is left to a lifecycle rule. */
const ABORT_ATTEMPTS = 3;
/** Metadata naming the version a copy restored, so a re-run recognises a multipart object. */
const RESTORED_FROM = 'drctl-restored-from';

const Input = z.strictObject({
  url: z.string().min(1).meta({ description: 's3://bucket/prefix: every object under the prefix' }),
  to: z.string().min(1).meta({ description: 'the point in time: ISO 8601 with offset, "2 hours ago", now-2h' }),
  deleteNewer: z.boolean().default(false).meta({ description: 'hide objects created after the time behind a delete marker' }),
  confirm: z.boolean().default(false).meta({ description: 'really change the bucket (default: a dry run that lists the changes)' }),
  show: z.number().int().min(0).default(20).meta({ description: 'how many changed keys to list' }),
});

export const s3VersionsRestore = defineAction({
  name: 's3.versions.restore',
  summary: 'Bring every object under an S3 prefix back to its version at a point in time (versioned buckets)',
  input: Input,
  outputs: ['location', 'target', 'recoveryPoint', 'applied', 'overwrite', 'undelete', 'deleteNewer', 'keptNewer', 'unchanged', 'changed', 'bytes', 'changes', 'failed', 'figure'],
  describe: (i) => `${i.confirm ? 'restore' : 'dry run: list what restoring would change in'} ${i.url} to ${i.to}${i.deleteNewer ? ', delete-marking newer objects' : ''}`,
  async run(ctx, i) {
    const target = parseTimePoint(i.to, 'to');
    const copy = copySettings(ctx.env);
    if (target.getTime() > Date.now() + 1000) throw new UsageError('usage.time', `to: ${target.toISOString()} is in the future`);
    ctx.log(`target: ${target.toISOString()} (UTC)`);
    const b = await openBucket(ctx, i.url, 'url');
    const v = await versioningStatus(b, ctx.signal);
    if (v.status !== 'Enabled') {
      const e = new OperationError('s3.unversioned', `s3://${b.bucket}: versioning is ${v.status === 'Off' ? 'not enabled' : 'suspended'}: earlier versions are not kept, so there is nothing to restore from`);
      e.retryable = false;
      throw e;
    }

    const changes: Change[] = [];
    let unchanged = 0;
    let keys = 0;
    for await (const h of keyHistories(b, ctx.signal)) {
      keys++;
      let c = planKey(h, target.getTime(), i.deleteNewer);
      // A copy made in parts never has its source's ETag: its metadata names the version it restored.
      const multipart = (c?.etag && isMultipartEtag(c.etag)) || (c?.currentEtag && isMultipartEtag(c.currentEtag));
      if (c?.action === 'overwrite' && multipart && (await restoredFrom(b, c, ctx.signal)) === c.versionId) c = undefined;
      if (c) changes.push(c);
      else unchanged++;
      if (keys % 1000 === 0) ctx.progress({ message: `${keys} keys read, ${changes.length} to change` });
    }
    const count = (a: Change['action']) => changes.filter((c) => c.action === a).length;
    const acting = changes.filter((c) => c.action !== 'keep-newer');
    const bytes = acting.reduce((n, c) => n + (c.action === 'delete-newer' ? 0 : c.bytes), 0);
    // Changed objects are listed under "object": a field named "key" reads as a secret to redaction.
    const summary = {
      location: b.location,
      target: target.toISOString(),
      recoveryPoint: target.toISOString(),
      overwrite: count('overwrite'),
      undelete: count('undelete'),
      deleteNewer: count('delete-newer'),
      keptNewer: count('keep-newer'),
      unchanged,
      changed: acting.length,
      bytes,
      changes: changes.slice(0, i.show).map((c) => ({ object: c.key, action: c.action, bytes: c.bytes, ...(c.versionId ? { versionId: c.versionId } : {}) })),
    };
    const figure = `${summary.overwrite} overwritten, ${summary.undelete} undeleted, ${summary.deleteNewer} delete-marked (${formatBytes(bytes)}); ${summary.keptNewer} newer kept, ${unchanged} unchanged`;
    if (!i.confirm || acting.length === 0) return { ...summary, applied: false, failed: [], figure: i.confirm ? 'nothing to change' : `dry run: would ${figure}` };

    const ok = await ctx.confirm(`Restore ${b.location} to ${target.toISOString()}: ${figure}?`);
    if (!ok) throw new ConfirmationError('confirm.declined', `declined: ${b.location} was left as it is`);

    const failed: { key: string; error: string }[] = [];
    let done = 0;
    let moved = 0;
    const queue = [...acting];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        if (ctx.signal.aborted) return;
        try {
          await apply(b, c, ctx, copy);
          moved += c.action === 'delete-newer' ? 0 : c.bytes;
        } catch (err) {
          if (ctx.signal.aborted) return;
          failed.push({ key: c.key, error: (err as Error).message });
        }
        done++;
        ctx.progress({ bytes: moved, total: bytes, message: `${done}/${acting.length} objects` });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, acting.length) }, worker));
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('aborted');
    if (failed.length) {
      throw new OperationError('s3.restorePartial', `${failed.length} of ${acting.length} object(s) not restored (a re-run retries only those): ${failed.slice(0, 3).map((f) => `${f.key}: ${f.error}`).join('; ')}`);
    }
    return { ...summary, applied: true, failed, figure };
  },
});

async function restoredFrom(b: Bucket, c: Change, signal: AbortSignal): Promise<string | undefined> {
  try {
    const h = await b.s3.send(new b.sdk.HeadObjectCommand({ Bucket: b.bucket, Key: c.key, VersionId: c.currentVersionId }), { abortSignal: signal });
    return h.Metadata?.[RESTORED_FROM];
  } catch (err) {
    throw s3Failure(err, b, `reading ${c.key}`);
  }
}

interface CopySettings {
  /** Versions larger than this are copied in parts. */
  threshold: number;
  partSize: number;
}

/**
 * DRCTL_S3_COPY_THRESHOLD and DRCTL_S3_COPY_PART_SIZE (bytes): by default only what CopyObject
 * cannot take goes in parts; lower values let a test or a slow store use parts sooner.
 */
export function copySettings(env: Readonly<Record<string, string | undefined>>): CopySettings {
  const bytes = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError('usage.s3', `${name}=${raw}: expected a whole number of bytes from ${min} to ${max}`);
    return n;
  };
  return { threshold: bytes('DRCTL_S3_COPY_THRESHOLD', COPY_LIMIT, 0, COPY_LIMIT), partSize: bytes('DRCTL_S3_COPY_PART_SIZE', DEFAULT_PART, MIN_PART, COPY_LIMIT) };
}

/** The part size for an object: the configured one, larger when it would need over 10,000 parts. */
export function partSizeFor(size: number, partSize: number): number {
  return Math.max(partSize, Math.ceil(size / MAX_PARTS));
}

async function apply(b: Bucket, c: Change, ctx: ActionContext, copy: CopySettings): Promise<void> {
  const { s3, sdk } = b;
  if (c.action === 'delete-newer') {
    // No version id: S3 adds a delete marker and keeps the newer object's data.
    await s3.send(new sdk.DeleteObjectCommand({ Bucket: b.bucket, Key: c.key }), { abortSignal: ctx.signal });
    return;
  }
  const CopySource = `${b.bucket}/${c.key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(c.versionId!)}`;
  if (c.bytes > copy.threshold) return copyInParts(b, c, CopySource, copy.partSize, ctx);
  if (c.etag && isMultipartEtag(c.etag)) {
    // The copy gets a plain MD5 ETag, unlike its source: a marker in its metadata lets the
    // next run see it is already restored. Everything else about the object is carried over.
    const h = await s3.send(new sdk.HeadObjectCommand({ Bucket: b.bucket, Key: c.key, VersionId: c.versionId }), { abortSignal: ctx.signal });
    await s3.send(
      new sdk.CopyObjectCommand({
        Bucket: b.bucket,
        Key: c.key,
        CopySource,
        MetadataDirective: 'REPLACE',
        ...carriedOver(h, c.versionId!),
      }),
      { abortSignal: ctx.signal },
    );
    return;
  }
  const r = await s3.send(new sdk.CopyObjectCommand({ Bucket: b.bucket, Key: c.key, CopySource, MetadataDirective: 'COPY' }), { abortSignal: ctx.signal });
  // A single-part ETag is the content's MD5: the copy must carry the source's.
  if (r.CopyObjectResult?.ETag && c.etag && r.CopyObjectResult.ETag !== c.etag) {
    throw new OperationError('s3.copyMismatch', `copy of version ${c.versionId} has ETag ${r.CopyObjectResult.ETag}, expected ${c.etag}`);
  }
}

/**
 * What a copy that cannot use MetadataDirective COPY carries over from the version it restores
 * (its metadata and headers), plus the marker naming that version.
 */
function carriedOver(h: import('@aws-sdk/client-s3').HeadObjectCommandOutput, versionId: string) {
  return {
    Metadata: { ...h.Metadata, [RESTORED_FROM]: versionId },
    ContentType: h.ContentType,
    CacheControl: h.CacheControl,
    ContentDisposition: h.ContentDisposition,
    ContentEncoding: h.ContentEncoding,
    ContentLanguage: h.ContentLanguage,
    Expires: h.Expires,
  };
}

/**
 * The version copied range by range into a multipart upload. The result's ETag is not its
 * source's, so the source's metadata and tags are carried over with a marker naming the
 * version; any failure (or an interrupt) aborts the upload, since an unfinished one keeps its
 * parts stored (and billed) until someone aborts it.
 */
async function copyInParts(b: Bucket, c: Change, CopySource: string, partSize: number, ctx: ActionContext): Promise<void> {
  const { s3, sdk } = b;
  const h = await s3.send(new sdk.HeadObjectCommand({ Bucket: b.bucket, Key: c.key, VersionId: c.versionId }), { abortSignal: ctx.signal });
  const size = h.ContentLength ?? c.bytes;
  const part = partSizeFor(size, partSize);
  // CopyObject carries the source's tags over; a multipart upload has to be given them.
  const tags = await s3.send(new sdk.GetObjectTaggingCommand({ Bucket: b.bucket, Key: c.key, VersionId: c.versionId }), { abortSignal: ctx.signal });
  const Tagging = tags.TagSet?.length ? new URLSearchParams(tags.TagSet.map((t): [string, string] => [t.Key ?? '', t.Value ?? ''])).toString() : undefined;
  const created = await s3.send(
    new sdk.CreateMultipartUploadCommand({
      Bucket: b.bucket,
      Key: c.key,
      ...carriedOver(h, c.versionId!),
      Tagging,
    }),
    { abortSignal: ctx.signal },
  );
  const UploadId = created.UploadId;
  if (!UploadId) throw new OperationError('s3.multipart', `${c.key}: the store started a multipart upload without an upload id`);
  const count = Math.ceil(size / part);
  let done: import('@aws-sdk/client-s3').CompleteMultipartUploadCommandOutput;
  try {
    const etags: string[] = new Array<string>(count);
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async () => {
      // After a failure the other ranges take no new part; the one each is copying finishes.
      for (let i = next++; i < count && !failure; i = next++) {
        const start = i * part;
        const end = Math.min(size, start + part) - 1;
        try {
          const r = await s3.send(
            new sdk.UploadPartCopyCommand({ Bucket: b.bucket, Key: c.key, UploadId, PartNumber: i + 1, CopySource, CopySourceRange: `bytes=${start}-${end}` }),
            { abortSignal: ctx.signal },
          );
          if (!r.CopyPartResult?.ETag) throw new OperationError('s3.multipart', `${c.key}: part ${i + 1} of ${count} copied without an ETag`);
          etags[i] = r.CopyPartResult.ETag;
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    // Every copy settles before the abort goes out: a part still being copied during an abort
    // may be stored after it, and would stay billed under an upload nobody lists any more.
    await Promise.allSettled(Array.from({ length: Math.min(PART_PARALLEL, count) }, worker));
    if (failure) throw failure.err;
    done = await s3.send(
      new sdk.CompleteMultipartUploadCommand({ Bucket: b.bucket, Key: c.key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
      { abortSignal: ctx.signal },
    );
  } catch (err) {
    await abortUpload(b, c.key, UploadId, ctx);
    throw err;
  }
  const got = await s3.send(new sdk.HeadObjectCommand({ Bucket: b.bucket, Key: c.key, VersionId: done.VersionId }), { abortSignal: ctx.signal });
  if (got.ContentLength !== size) throw new OperationError('s3.copyMismatch', `copy of version ${c.versionId} in ${count} part(s) holds ${got.ContentLength} bytes, expected ${size}`);
}

/**
 * Aborts a multipart upload until the store no longer knows it. S3 may keep a part that was
 * being stored while the abort ran (an abort may have to be repeated): ListParts after each
 * abort tells whether the upload, and so its billed parts, is really gone.
 */
async function abortUpload(b: Bucket, Key: string, UploadId: string, ctx: ActionContext): Promise<void> {
  const { s3, sdk } = b;
  // Not the run's signal: after an interrupt the abort has to go out all the same.
  const opts = () => ({ abortSignal: AbortSignal.timeout(30_000) });
  const gone = (e: unknown) => (e as { name?: string }).name === 'NoSuchUpload' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
  try {
    for (let attempt = 1; ; attempt++) {
      await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: b.bucket, Key, UploadId }), opts()).catch((e: unknown) => {
        if (!gone(e)) throw e;
      });
      const listed = await s3.send(new sdk.ListPartsCommand({ Bucket: b.bucket, Key, UploadId }), opts()).then(
        (r) => r.Parts?.length ?? 0,
        (e: unknown) => {
          if (gone(e)) return undefined;
          throw e;
        },
      );
      if (listed === undefined) return;
      if (attempt === ABORT_ATTEMPTS) throw new Error(`still listed with ${listed} part(s) after ${ABORT_ATTEMPTS} aborts`);
    }
  } catch (e) {
    ctx.log(`${Key}: could not abort multipart upload ${UploadId} (${(e as Error).message}); remove it with a lifecycle rule (AbortIncompleteMultipartUpload)`);
  }
}
