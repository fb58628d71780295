import type { Command } from 'commander';
import type { Action } from '../program.js';

interface RestoreFlags {
  backup: string;
  pitr?: string;
  target?: string;
  targetDir?: string;
  repo?: string;
  jobs?: string;
  schema?: string;
  table?: string;
  clean?: boolean;
  owner: boolean;
}

// drctl restore: runs runbooks/restore.yaml; afterwards prints the row count of every table.
export function registerRestore(program: Command, act: Action): void {
  program
    .command('restore')
    .description('restore a backup into a database (logical), verifying every checksum')
    .option('--backup <id>', 'backup id, or latest', 'latest')
    .option('--target <pg-url>', 'database to restore into (created if absent; a non-empty one needs confirmation)')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--jobs <n>', 'parallel pg_restore jobs (spools the dump to a temp file)')
    .option('--schema <name>', 'restore only this schema')
    .option('--table <name>', 'restore only this table')
    .option('--clean', 'drop objects before recreating them')
    .option('--no-owner', 'do not restore ownership')
    .action(
      act(async (ctx, o: RestoreFlags) => {
        const { UsageError } = await import('../../errors.js');
        if (!o.target) throw new UsageError('restore needs --target <pg-url>', 'usage.target');
        if (o.jobs !== undefined && !/^[1-9]\d*$/.test(o.jobs)) throw new UsageError(`--jobs ${o.jobs}: expected a positive integer`, 'usage.jobs');
        const { executeRunbook } = await import('../execute.js');
        const { resolveRunbook } = await import('../context.js');
        const r = await executeRunbook(ctx, resolveRunbook(ctx, 'restore'), {
          inputs: {
            backup: o.backup,
            target: o.target,
            repo: o.repo ?? ctx.config.repo,
            jobs: o.jobs,
            schema: o.schema,
            table: o.table,
            clean: o.clean ? 'true' : undefined,
            noOwner: o.owner === false ? 'true' : undefined,
          },
        });
        const out = r.report?.steps.find((s) => s.id === 'restore')?.outputs;
        if (r.exitCode === 0 && out?.rowCounts && typeof out.rowCounts === 'object') {
          const { formatTable } = await import('../../report/table.js');
          const rows = Object.entries(out.rowCounts as Record<string, number>).map(([t, n]) => [t, String(n)]);
          process.stdout.write(`restored ${String(out.backupId)} (data as of ${String(out.recoveryPoint)})\n${formatTable(['table', 'rows'], rows)}`);
        }
        return r.exitCode;
      }),
    );
}
