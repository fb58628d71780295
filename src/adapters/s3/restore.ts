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

const COPY_LIMIT = 5 * 1024 ** 3;
const PARALLEL = 8;
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
      if (c?.action === 'overwrite' && c.etag && isMultipartEtag(c.etag) && (await restoredFrom(b, c, ctx.signal)) === c.versionId) c = undefined;
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

    const big = acting.find((c) => c.action !== 'delete-newer' && c.bytes > COPY_LIMIT);
    if (big) throw new OperationError('s3.tooLarge', `${big.key} (${formatBytes(big.bytes)}) is larger than a single server-side copy allows (5 GiB); nothing was changed`);
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
          await apply(b, c, ctx);
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

async function apply(b: Bucket, c: Change, ctx: ActionContext): Promise<void> {
  const { s3, sdk } = b;
  if (c.action === 'delete-newer') {
    // No version id: S3 adds a delete marker and keeps the newer object's data.
    await s3.send(new sdk.DeleteObjectCommand({ Bucket: b.bucket, Key: c.key }), { abortSignal: ctx.signal });
    return;
  }
  const CopySource = `${b.bucket}/${c.key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(c.versionId!)}`;
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
        Metadata: { ...h.Metadata, [RESTORED_FROM]: c.versionId! },
        ContentType: h.ContentType,
        CacheControl: h.CacheControl,
        ContentDisposition: h.ContentDisposition,
        ContentEncoding: h.ContentEncoding,
        ContentLanguage: h.ContentLanguage,
        Expires: h.Expires,
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
