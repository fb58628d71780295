import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { parseDuration } from '../../time/duration.js';
import { defineAction, type ActionContext } from '../types.js';
import { openBucket, s3Failure, versioningStatus } from './bucket.js';

// s3.versioning.check: a bucket that is meant to be restorable from its versions has
// versioning on, and no lifecycle rule covering the prefix drops old versions sooner than the
// team promised to be able to go back (minNoncurrentDays). verify-backups and health run the
// same check (checkVersioning).

interface RuleSummary {
  id: string;
  enabled: boolean;
  prefix: string;
  expirationDays?: number;
  noncurrentDays?: number;
  deleteMarkerCleanup?: boolean;
}

export interface VersioningReport {
  location: string;
  versioning: 'Enabled' | 'Suspended' | 'Off';
  mfaDelete: boolean;
  rules: RuleSummary[];
  /** The shortest NoncurrentVersionExpiration of an enabled rule covering the prefix. */
  noncurrentDays: number | null;
  figure: string;
  /** Empty when the bucket keeps the promise. */
  problems: string[];
}

const DAY_MS = 86_400_000;

/** Whole days a retention promise ("30d", "4w") needs old versions kept: a part day counts. */
export function retentionDays(retention: string, what: string): number {
  return Math.ceil(parseDuration(retention, what) / DAY_MS);
}

export async function checkVersioning(ctx: ActionContext, url: string, minNoncurrentDays: number | undefined): Promise<VersioningReport> {
  const b = await openBucket(ctx, url, 'url');
  const v = await versioningStatus(b, ctx.signal);
  let rules: RuleSummary[] = [];
  try {
    const r = await b.s3.send(new b.sdk.GetBucketLifecycleConfigurationCommand({ Bucket: b.bucket }), { abortSignal: ctx.signal });
    rules = (r.Rules ?? []).map((x) => ({
      id: x.ID ?? '',
      enabled: x.Status === 'Enabled',
      prefix: x.Filter?.Prefix ?? x.Filter?.And?.Prefix ?? x.Prefix ?? '',
      expirationDays: x.Expiration?.Days,
      noncurrentDays: x.NoncurrentVersionExpiration?.NoncurrentDays,
      deleteMarkerCleanup: x.Expiration?.ExpiredObjectDeleteMarker,
    }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'NoSuchLifecycleConfiguration') throw s3Failure(err, b, 'reading the lifecycle rules');
  }
  // A rule applies when one prefix contains the other: it covers some objects under ours.
  const covering = rules.filter((r) => r.enabled && (b.prefix.startsWith(r.prefix) || r.prefix.startsWith(b.prefix)));
  const days = covering.map((r) => r.noncurrentDays).filter((d): d is number => d !== undefined);
  const noncurrentDays = days.length ? Math.min(...days) : undefined;
  const keep = noncurrentDays === undefined ? 'old versions kept until deleted' : `old versions expire after ${noncurrentDays} day(s)`;
  const promise = minNoncurrentDays === undefined ? '' : ` (${minNoncurrentDays} promised)`;
  const problems: string[] = [];
  if (v.status !== 'Enabled') problems.push(`versioning is ${v.status === 'Off' ? 'not enabled' : 'suspended'}`);
  if (minNoncurrentDays !== undefined && noncurrentDays !== undefined && noncurrentDays < minNoncurrentDays) {
    problems.push(`a lifecycle rule expires old versions after ${noncurrentDays} day(s), fewer than the ${minNoncurrentDays} required`);
  }
  return { location: b.location, versioning: v.status, mfaDelete: v.mfaDelete, rules, noncurrentDays: noncurrentDays ?? null, figure: `${b.location}: versioning ${v.status}, ${keep}${promise}`, problems };
}

export const s3VersioningCheck = defineAction({
  name: 's3.versioning.check',
  summary: 'Check that an S3 bucket keeps versions and how long its lifecycle rules keep them',
  input: z.strictObject({
    url: z.string().min(1).meta({ description: 's3://bucket/prefix' }),
    minNoncurrentDays: z.number().int().min(0).optional().meta({ description: 'fail when a lifecycle rule covering the prefix expires old versions sooner' }),
    retention: z.string().optional().meta({ description: 'the same as a duration (30d, 4w): how far back the team promised to go' }),
  }),
  outputs: ['location', 'versioning', 'mfaDelete', 'rules', 'noncurrentDays', 'figure'],
  describe: (i) => `versioning and lifecycle rules of ${i.url}`,
  async run(ctx, i) {
    const fromRetention = i.retention ? retentionDays(i.retention, 'retention') : undefined;
    const min = i.minNoncurrentDays !== undefined && fromRetention !== undefined ? Math.max(i.minNoncurrentDays, fromRetention) : (i.minNoncurrentDays ?? fromRetention);
    const { problems, ...r } = await checkVersioning(ctx, i.url, min);
    if (problems.length) {
      const e = new OperationError('s3.versioning', `${r.location}: ${problems.join('; ')}`);
      e.retryable = false;
      throw e;
    }
    return r;
  },
});
