import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { parseDuration } from '../../time/duration.js';
import { verifyRepository, writeVerifyErrorMetrics } from './verify/run-verify.js';
import { parseSubset } from './verify/wal-read.js';
import { retentionDays } from '../s3/versioning-check.js';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';

// repo.verify: what cron runs every hour (verify-backups). Fails, naming each failed check and
// its backup, when anything is wrong; the outputs stay available to notification steps.

const List = z.union([z.string(), z.array(z.string())]).optional();
const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean);

export const repoVerify = defineAction({
  name: 'repo.verify',
  summary: 'Verify the repository: age, size, checksums, WAL continuity and reads, drift, optional test restore',
  input: z.strictObject({
    repo: z.string().optional(),
    maxAge: z.string().default('24h'),
    walMaxAge: z.string().optional(),
    all: z.boolean().default(false),
    testRestore: z.boolean().default(false),
    scratch: z.string().optional().meta({ description: 'PostgreSQL URL for test restores, or auto for a throwaway cluster' }),
    criticalTables: List,
    databases: List,
    sizeBand: z.number().min(0).max(1).default(0.5),
    rowTolerance: z.number().min(0).default(0.1),
    metricsFile: z.string().optional(),
    readDataSubset: z.string().optional().meta({ description: 'archived WAL to re-read: N% (a random sample) or n/m (one of m fixed parts); default all since the newest base backup' }),
    bucket: z.string().optional().meta({ description: 'versioned S3 prefix (s3://bucket/prefix) whose versioning and lifecycle rules are checked too' }),
    bucketRetention: z.string().optional().meta({ description: 'how far back the bucket\'s old versions must reach (30d): a lifecycle rule expiring them sooner fails' }),
  }),
  outputs: ['ok', 'checks', 'failed', 'summary', 'newest'],
  describe: (i) => `verify ${i.repo ?? 'the configured repository'}: newest backup younger than ${i.maxAge}, checksums${i.testRestore ? ', test restore' : ''}`,
  async run(ctx, i) {
    const maxAgeMs = parseDuration(i.maxAge, '--max-age');
    const bucket = i.bucket ? { url: i.bucket, minNoncurrentDays: i.bucketRetention ? retentionDays(i.bucketRetention, 'bucketRetention') : undefined } : undefined;
    const verify = async () => verifyRepository(ctx, await openRepo(ctx, i.repo), {
      maxAgeMs,
      walMaxAgeMs: i.walMaxAge ? parseDuration(i.walMaxAge, 'walMaxAge') : maxAgeMs,
      all: i.all,
      testRestore: i.testRestore,
      scratch: i.scratch,
      criticalTables: list(i.criticalTables),
      databases: list(i.databases),
      sizeBand: i.sizeBand,
      rowTolerance: i.rowTolerance,
      metricsFile: i.metricsFile,
      readDataSubset: parseSubset(i.readDataSubset, 'readDataSubset'),
      bucket,
      bucketHowTo: '--s3-bucket, versionedBucket: in drctl.yaml or DRCTL_VERSIONED_BUCKET',
    });
    let r: Awaited<ReturnType<typeof verify>>;
    try {
      r = await verify();
    } catch (err) {
      if (i.metricsFile) await writeVerifyErrorMetrics(i.metricsFile, i.repo).catch(() => {});
      throw err;
    }
    const failed = r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}${c.backup ? ` (${c.backup})` : ''}: ${c.figure}`);
    const summary = r.ok ? `all ${r.checks.filter((c) => c.status === 'pass').length} checks passed` : `${failed.length} check(s) failed: ${failed.join('; ')}`;
    const outputs = { ok: r.ok, checks: r.checks, failed, summary, newest: r.newest ?? {} };
    if (!r.ok) throw new OperationError('verify.failed', summary, { cause: outputs });
    return outputs;
  },
});
