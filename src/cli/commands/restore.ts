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
  roles: boolean;
  timeline?: string;
  start?: boolean;
  port?: string;
  archive: boolean;
}

// drctl restore: a logical restore into a database (runbooks/restore.yaml; prints the row
// count of every table), or a physical / point-in-time restore into a data directory
// (runbooks/pitr-restore.yaml).
export function registerRestore(program: Command, act: Action): void {
  program
    .command('restore')
    .option('--backup <id>', 'backup id, or latest (PITR: the newest base backup that ended before the target)', 'latest')
    .option('--pitr <time>', 'recover to this time: ISO 8601 with offset, "10 minutes ago", now-10m, or latest')
    .option('--target-dir <path>', 'data directory for a physical / point-in-time restore')
    .option('--timeline <n>', 'PITR: follow this timeline (default: the newest)')
    .option('--start', 'PITR: start the server, wait until it reached the target and promoted')
    .option('--port <n>', 'PITR: port for the restored server')
    .option('--no-archive', 'PITR: turn archive_mode off on the restored server (scratch copies; always off in a drill)')
    .option('--target <pg-url>', 'database to restore into (created if absent; a non-empty one needs confirmation)')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--jobs <n>', 'parallel pg_restore jobs (spools the dump to a temp file)')
    .option('--schema <name>', 'restore only this schema')
    .option('--table <name>', 'restore only this table')
    .option('--clean', 'drop objects before recreating them')
    .option('--no-owner', 'do not restore ownership')
    .option('--no-roles', 'do not create the roles the backup holds that the target lacks')
    .action(
      act(async (ctx, o: RestoreFlags) => {
        const { UsageError } = await import('../../errors.js');
        const { executeRunbook } = await import('../execute.js');
        const { resolveRunbook } = await import('../context.js');
        const int = (flag: string, v: string | undefined) => {
          if (v !== undefined && !/^[1-9]\d*$/.test(v)) throw new UsageError(`${flag} ${v}: expected a positive integer`, 'usage.int');
          return v;
        };
        if (o.pitr !== undefined && !o.targetDir) throw new UsageError('--pitr needs --target-dir <path>: point-in-time recovery restores into a data directory', 'usage.pitr');
        if (o.targetDir) {
          if (o.target) throw new UsageError('give either --target (logical restore) or --target-dir (physical restore), not both', 'usage.target');
          if (o.pitr !== undefined && o.pitr !== 'latest') {
            const { parseTimePoint } = await import('../../time/time-point.js');
            process.stderr.write(`recovery target: ${parseTimePoint(o.pitr, '--pitr').toISOString()} (UTC)\n`);
          }
          const r = await executeRunbook(ctx, resolveRunbook(ctx, 'pitr-restore'), {
            inputs: {
              pitr: o.pitr,
              targetDir: o.targetDir,
              backup: o.backup,
              repo: o.repo ?? ctx.config.repo,
              timeline: int('--timeline', o.timeline),
              start: o.start ? 'true' : undefined,
              port: int('--port', o.port),
              archive: o.archive === false ? 'false' : undefined,
            },
          });
          const out = r.report?.steps.find((s) => s.id === 'restore')?.outputs;
          const { formatDuration } = await import('../../time/duration.js');
          if (r.exitCode === 0 && out) {
            if (out.archiving) process.stderr.write(out.archiving === 'off' ? 'archiving: off on the restored server\n' : `archiving: on (${String(out.archiving)}): the new timeline is archived\n`);
            process.stdout.write(
              out.started
                ? `restored ${String(out.backupId)} into ${String(out.dataDir)}; promoted on timeline ${String(out.timeline)}; data as of ${String(out.recoveryPoint || out.stoppedAt)} (RPO ${formatDuration(Number(out.dataLossMs ?? 0))})\n`
                : `restored ${String(out.backupId)} into ${String(out.dataDir)} with ${String(out.walFiles)} WAL file(s) spooled; start it with: pg_ctl -D ${String(out.dataDir)} start\n`,
            );
          }
          return r.exitCode;
        }
        if (!o.target) throw new UsageError('restore needs --target <pg-url> (logical) or --target-dir <path> (physical / --pitr)', 'usage.target');
        int('--jobs', o.jobs);
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
            roles: o.roles === false ? 'false' : undefined,
          },
        });
        const out = r.report?.steps.find((s) => s.id === 'restore')?.outputs;
        if (r.exitCode === 0 && out?.rowCounts && typeof out.rowCounts === 'object') {
          const { formatTable } = await import('../../report/table.js');
          const estimated = new Set((out.estimated ?? []) as string[]);
          const rows = Object.entries(out.rowCounts as Record<string, number>).map(([t, n]) => [t, `${estimated.has(t) ? '~' : ''}${n}`]);
          process.stdout.write(`restored ${String(out.backupId)} (data as of ${String(out.recoveryPoint)})\n${formatTable(['table', 'rows'], rows)}`);
          const roles = Array.isArray(out.rolesCreated) ? out.rolesCreated.map(String) : [];
          if (roles.length) process.stdout.write(`created role(s): ${roles.join(', ')}\n`);
          if (estimated.size) process.stdout.write('~ planner estimate after ANALYZE (tables of a million rows or more)\n');
        }
        return r.exitCode;
      }),
    );
}
