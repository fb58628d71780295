import type { S3Client } from '@aws-sdk/client-s3';
import { OperationError, UsageError } from '../../errors.js';
import { openStorage } from '../../repository/open-storage.js';
import type { ActionContext } from '../types.js';

// A bucket and key prefix named by an s3:// URL, with the SDK client built exactly as the
// repository's S3 driver builds it (custom endpoint, path-style, checksum mode, retries, keys).

export interface Bucket {
  s3: S3Client;
  sdk: typeof import('@aws-sdk/client-s3');
  bucket: string;
  /** '' for the whole bucket, else "folder/" : uploads never matches uploads2/. */
  prefix: string;
  location: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Bucket and folder of "s3://bucket/folder"; anything else is a usage error. */
export function parseS3Url(url: string, what: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url.trim());
  if (!m) throw new UsageError('usage.s3', `${what} ${url}: expected s3://bucket/prefix`);
  const bucket = m[1]!;
  if (!BUCKET_NAME.test(bucket)) throw new UsageError('usage.s3', `${what} ${url}: "${bucket}" is not a valid S3 bucket name`);
  const folder = m[2]!.split('/').filter(Boolean).join('/');
  return { bucket, prefix: folder ? `${folder}/` : '' };
}

export async function openBucket(ctx: ActionContext, url: string, what: string): Promise<Bucket> {
  const { bucket, prefix } = parseS3Url(url, what);
  const storage = await openStorage(`s3://${bucket}`, { env: ctx.env, config: ctx.config });
  ctx.secret(ctx.env.AWS_SECRET_ACCESS_KEY);
  ctx.secret(ctx.env.AWS_SESSION_TOKEN);
  const { s3, sdk } = await (storage as import('../../repository/storage/s3.js').S3Storage).sdkClient();
  return { s3, sdk, bucket, prefix, location: `s3://${bucket}/${prefix}` };
}

/** The bucket's versioning status: Enabled, Suspended or Off (never enabled). */
export async function versioningStatus(b: Bucket, signal: AbortSignal): Promise<{ status: 'Enabled' | 'Suspended' | 'Off'; mfaDelete: boolean }> {
  try {
    const r = await b.s3.send(new b.sdk.GetBucketVersioningCommand({ Bucket: b.bucket }), { abortSignal: signal });
    return { status: r.Status === 'Enabled' ? 'Enabled' : r.Status === 'Suspended' ? 'Suspended' : 'Off', mfaDelete: r.MFADelete === 'Enabled' };
  } catch (err) {
    throw s3Failure(err, b, 'reading the versioning status');
  }
}

/** One line for an SDK failure: the bucket, what was being done, the store's own error name. */
export function s3Failure(err: unknown, b: { bucket: string }, doing: string): Error {
  if (err instanceof OperationError || err instanceof UsageError || (err as Error)?.name === 'AbortError') return err as Error;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const status = e.$metadata?.httpStatusCode;
  const why = e.name === 'NoSuchBucket' ? 'no such bucket' : e.cause?.code ?? `${e.name ?? 'error'}${status ? ` (${status})` : ''}: ${e.message ?? ''}`.trim();
  const out = new OperationError('s3.failed', `s3://${b.bucket}: ${doing}: ${why}`, { cause: err });
  if (status === 403 || status === 404 || e.name === 'NoSuchBucket') out.retryable = false;
  return out;
}
