import type { Command } from 'commander';
import type { Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { pgUrlFlag } from '../flags.js';
import { parseCompression } from '../../repository/compress.js';
import { executeRunbook } from '../execute.js';
import { builtInRunbook } from '../context.js';
import { runResult } from '../run-result.js';
import * as output from '../output.js';

// drctl backup: runs runbooks/backup.yaml with the flags as inputs; prints the new backup id
// (--json: the whole result as one document).
export function registerBackup(program: Command, act: Action): void {
  program
    .command('backup')
    .option('--source <pg-url>', 'database to back up (default: config source, DATABASE_URL)')
    .option('--repo <url>', 'repository: file:///path or s3://bucket/prefix (default: config repo, DRCTL_REPO)')
    .option('--type <type>', 'logical (pg_dump) or base (pg_basebackup, for point-in-time recovery)', 'logical')
    .option('--label <text>', 'free text stored with the backup')
    .option('--metrics-file <path>', 'write a Prometheus textfile (node_exporter textfile collector)')
    .option('--runbook <file>', 'run this runbook instead of the built-in backup')
    .option('--json', 'print the result as one JSON document on stdout (backup id, sizes, recovery point, failures)')
    .option('--compress <codec>', 'zstd, gzip or none (default: config compress, else zstd)')
    .option('--compress-level <n>', "compression level (zstd 1-19, gzip 1-9; default: the codec's)")
    .option('--archive-timeout <duration>', 'base: how long WAL archiving may fail, or the last segment take to reach the repository, before the backup gives up (default 60s)')
    .action(
      act(async (ctx, o: { source?: string; repo?: string; type: string; label?: string; metricsFile?: string; runbook?: string; json?: boolean; compress?: string; compressLevel?: string; archiveTimeout?: string }) => {
        if (o.type !== 'logical' && o.type !== 'base') throw new UsageError('usage.type', `--type ${o.type}: use logical or base`);
        if (o.compress !== undefined || o.compressLevel !== undefined) {
          if (o.type === 'base') throw new UsageError('usage.compress', '--compress and --compress-level apply to logical backups (a base backup is stored as zstd tar parts, level 3)');
          parseCompression(o.compress ?? ctx.config.compress, o.compressLevel);
        }
        // Only when given: a runbook passed with --runbook need not declare these inputs.
        if (o.archiveTimeout !== undefined && o.type !== 'base') throw new UsageError('usage.archiveTimeout', '--archive-timeout applies to base backups');
        const compression = { ...(o.compress !== undefined ? { compress: o.compress } : {}), ...(o.compressLevel !== undefined ? { compressLevel: o.compressLevel } : {}) };
        const r = await executeRunbook(ctx, builtInRunbook(ctx, 'backup', o.runbook), {
          inputs: { source: pgUrlFlag('--source', o.source) ?? ctx.config.source, repo: o.repo ?? ctx.config.repo, type: o.type, label: o.label, ...compression, ...(o.archiveTimeout !== undefined ? { archiveTimeout: o.archiveTimeout } : {}) },
          metricsFile: o.metricsFile,
          json: o.json,
        });
        if (o.json) {
          output.jsonResult(runResult(r, { dryRun: ctx.dryRun, step: 'backup', as: 'backup' }));
          return r.exitCode;
        }
        const id = r.report?.steps.find((s) => s.id === 'backup')?.outputs.backupId;
        if (r.exitCode === 0 && typeof id === 'string') output.result(`${id}\n`);
        return r.exitCode;
      }),
    );
}
