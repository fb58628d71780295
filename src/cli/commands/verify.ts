import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../time/duration.js';
import { numberFlag, pgUrlFlag } from '../flags.js';
import { formatTable } from '../../report/table.js';
import { parseSubset } from '../../adapters/repo/verify/wal-read.js';
import { parseS3Url } from '../../adapters/s3/bucket.js';
import { executeRunbook } from '../execute.js';
import { runOutcome } from '../run-result.js';
import * as output from '../output.js';
import { secrets } from '../../redact.js';
import { builtInRunbook } from '../context.js';

interface VerifyFlags {
  repo?: string;
  maxAge?: string;
  walMaxAge?: string;
  all?: boolean;
  testRestore?: boolean;
  scratch?: string;
  criticalTables?: string;
  database: string[];
  sizeBand?: string;
  rowTolerance?: string;
  metricsFile?: string;
  readDataSubset?: string;
  json?: boolean;
  runbook?: string;
  s3Bucket?: string;
  s3Retention?: string;
}

// drctl verify-backups: runs runbooks/verify-backups.yaml; prints each check with its figure;
// exit 1 when any check fails (and the runbook pages when configured).
export function registerVerify(program: Command, act: Action): void {
  program
    .command('verify-backups')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--max-age <duration>', 'newest backup may be this old (default: config targets.rpo, else 24h)')
    .option('--wal-max-age <duration>', 'newest archived WAL segment may be this old (default: --max-age)')
    .option('--all', 're-read every backup, not only the newest of each database')
    .option('--test-restore', 'restore the newest backup of each database into a scratch database and compare')
    .option('--scratch <pg-url|auto>', 'where to test-restore: a PostgreSQL URL (a database is created and dropped) or auto (a throwaway local cluster)', 'auto')
    .option('--critical-tables <a,b>', 'tables that must exist')
    .option('--database <name>', 'a database that must have a backup (repeatable)', collect, [])
    .option('--size-band <fraction>', 'fail when the newest backup is below this fraction of the median earlier size', '0.5')
    .option('--row-tolerance <fraction>', 'allowed row-count change per table since the previous backup', '0.1')
    .option('--read-data-subset <N%|n/m>', 're-read only part of the archived WAL: a random N% sample, or part n of m (default: all since the newest base backup)')
    .option('--s3-bucket <s3://bucket/prefix>', 'also check this versioned S3 prefix: versioning on, old versions kept (default: config versionedBucket, DRCTL_VERSIONED_BUCKET)')
    .option('--s3-retention <duration>', "fail when a lifecycle rule drops the bucket's old versions sooner than this, e.g. 30d (default: config versionRetention)")
    .option('--metrics-file <path>', 'write a Prometheus textfile (node_exporter textfile collector)')
    .option('--json', 'print the result as JSON')
    .option('--runbook <file>', 'run this runbook instead of the built-in verify-backups')
    .action(
      act(async (ctx, o: VerifyFlags) => {
        if (o.scratch !== undefined && o.scratch !== 'auto') pgUrlFlag('--scratch', o.scratch);
        if (o.scratch !== undefined && o.scratch !== 'auto' && !o.testRestore) {
          throw new UsageError('usage.flagConflict', '--scratch needs --test-restore: it is where the test restore goes');
        }
        const sizeBand = numberFlag('--size-band', o.sizeBand, { min: 0, max: 1, example: '0.5' });
        const rowTolerance = numberFlag('--row-tolerance', o.rowTolerance, { min: 0, example: '0.1' });
        const maxAge = o.maxAge ?? ctx.config.targets?.rpo ?? '24h';
        parseDuration(maxAge, '--max-age');
        if (o.walMaxAge) parseDuration(o.walMaxAge, '--wal-max-age');
        parseSubset(o.readDataSubset);
        const bucket = o.s3Bucket ?? ctx.config.versionedBucket;
        const bucketRetention = o.s3Retention ?? ctx.config.versionRetention;
        if (bucket !== undefined) parseS3Url(bucket, o.s3Bucket !== undefined ? '--s3-bucket' : 'versionedBucket');
        if (bucketRetention !== undefined) parseDuration(bucketRetention, o.s3Retention !== undefined ? '--s3-retention' : 'versionRetention');
        const r = await executeRunbook(ctx, builtInRunbook(ctx, 'verify-backups', o.runbook), {
          inputs: {
            repo: o.repo ?? ctx.config.repo,
            maxAge,
            walMaxAge: o.walMaxAge,
            all: o.all ? 'true' : undefined,
            testRestore: o.testRestore ? 'true' : undefined,
            scratch: o.scratch,
            criticalTables: o.criticalTables,
            databases: o.database.length ? o.database.join(',') : undefined,
            sizeBand,
            rowTolerance,
            metricsFile: o.metricsFile,
            readDataSubset: o.readDataSubset,
            bucket,
            bucketRetention,
          },
          json: o.json,
        });
        const out = r.report?.steps.find((s) => s.id === 'verify')?.outputs;
        const checks = (out?.checks ?? []) as { name: string; status: string; figure: string; backup?: string }[];
        if (o.json) {
          output.jsonResult({ ...runOutcome(r, ctx.dryRun), ok: r.exitCode === 0 && (ctx.dryRun || out?.ok === true), checks: secrets.redactDeep(checks) });
        }
        else if (checks.length) {
          // --quiet (cron): nothing when all is well; the checks that failed when not.
          const shown = ctx.quiet ? (r.exitCode === 0 ? [] : checks.filter((c) => c.status === 'fail')) : checks;
          if (shown.length) process.stdout.write(formatTable(['check', 'status', 'figure', 'backup'], shown.map((c) => [c.name, c.status.toUpperCase(), c.figure, c.backup ?? ''])));
        }
        return r.exitCode;
      }),
    );
}
