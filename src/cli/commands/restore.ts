import type { Command } from 'commander';
import type { Outputs } from '../../adapters/types.js';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../report/table.js';
import { formatDuration } from '../../time/duration.js';
import { parseTimePoint } from '../../time/time-point.js';
import type { BuiltInRunbook } from '../../config.js';
import { builtInRunbook, type CliContext } from '../context.js';
import { executeRunbook, type ExecuteOptions } from '../execute.js';
import { intFlag, pgUrlFlag, portFlag, refuseFlags } from '../flags.js';
import * as output from '../output.js';
import type { Action } from '../program.js';
import { runResult } from '../run-result.js';

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
  standby?: boolean;
  primaryConninfo?: string;
  runbook?: string;
  json?: boolean;
  provider?: string;
  project?: string;
}

// drctl restore: a logical restore into a database (runbooks/restore.yaml; prints the row
// count of every table), or a physical / point-in-time restore into a data directory
// (runbooks/pitr-restore.yaml), or a managed database's own point-in-time recovery
// (--provider: runbooks/supabase-pitr.yaml, runbooks/render-pitr.yaml).
export function registerRestore(program: Command, act: Action): void {
  program
    .command('restore')
    .option('--backup <id>', 'backup id, or latest (PITR: the newest base backup that ended before the target)', 'latest')
    .option('--pitr <time>', 'recover to this time: ISO 8601 with offset, "10 minutes ago", now-10m, or latest')
    .option('--target-dir <path>', 'data directory for a physical / point-in-time restore')
    .option('--timeline <n>', 'PITR: follow this timeline (default: the newest)')
    .option('--start', 'PITR: start the server, wait until it reached the target and promoted')
    .option('--port <n>', 'PITR with --start: port for the restored server')
    .option('--standby', 'with --target-dir: build a standby from the newest base backup (standby.signal, restore_command reading the repository), start it, wait until it replays')
    .option('--primary-conninfo <url>', 'with --standby: the primary to stream from')
    .option('--no-archive', 'PITR: turn archive_mode off on the restored server (scratch copies; always off in a drill)')
    .option('--target <pg-url>', 'database to restore into (created if absent; a non-empty one needs confirmation)')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--jobs <n>', 'parallel pg_restore jobs (spools the dump to a temp file)')
    .option('--schema <name>', 'restore only this schema')
    .option('--table <name>', 'restore only this table')
    .option('--clean', 'drop objects before recreating them')
    .option('--no-owner', 'do not restore ownership')
    .option('--no-roles', 'do not create the roles the backup holds that the target lacks')
    .option('--provider <name>', 'managed PostgreSQL: supabase (restores the project in place) or render (recovers into a new instance)')
    .option('--project <ref>', 'with --provider: the Supabase project ref, or the Render Postgres id (dpg-...)')
    .option('--runbook <file>', 'run this runbook instead of the built-in restore (pitr-restore with --target-dir)')
    .option('--json', 'print the result as one JSON document on stdout (backup, recovery point, row counts or data directory, failures)')
    .action(
      act(async (ctx, o: RestoreFlags) => {
        if (o.provider !== undefined || o.project !== undefined) return restoreManaged(ctx, o);
        if (o.target !== undefined && o.targetDir !== undefined) throw new UsageError('usage.target', 'give either --target (logical restore) or --target-dir (physical restore), not both');
        if (o.pitr !== undefined && o.targetDir === undefined) {
          throw new UsageError('usage.pitr', `--pitr needs --target-dir <path>: point-in-time recovery restores into a data directory${o.target !== undefined ? ', not into the database --target names' : ''}`);
        }
        if (o.primaryConninfo !== undefined && !o.standby) throw new UsageError('usage.flagConflict', '--primary-conninfo needs --standby: it is where the standby streams from');
        if (o.standby) {
          if (o.targetDir === undefined) throw new UsageError('usage.target', '--standby needs --target-dir <path>: a standby is a data directory');
          refuseFlags(
            { '--pitr': o.pitr !== undefined, '--timeline': o.timeline !== undefined, '--start': o.start === true, '--table': o.table !== undefined, '--schema': o.schema !== undefined, '--jobs': o.jobs !== undefined, '--clean': o.clean === true, '--no-owner': o.owner === false },
            'not with --standby (a standby replays to the end of the archive, then follows the primary, and is always started)',
          );
          const r = await restoreRunbook(ctx, o, 'standby-restore', {
            targetDir: o.targetDir,
            backup: o.backup,
            repo: o.repo ?? ctx.config.repo,
            primaryConninfo: o.primaryConninfo !== undefined ? pgUrlFlag('--primary-conninfo', o.primaryConninfo) : undefined,
            port: portFlag('--port', o.port),
            archive: o.archive === false ? 'false' : undefined,
          });
          const out = r.restored;
          if (r.exitCode === 0 && out) {
            output.result(`standby restored from ${String(out.backupId)} into ${String(out.dataDir)}; replaying${out.streaming ? ', streaming from the primary' : ' from the repository'}\n`);
          }
          return r.exitCode;
        }
        if (o.targetDir !== undefined) {
          refuseFlags(
            { '--table': o.table !== undefined, '--schema': o.schema !== undefined, '--jobs': o.jobs !== undefined, '--clean': o.clean === true, '--no-owner': o.owner === false },
            'only for a logical restore (--target), not with --target-dir (a physical restore brings back the whole cluster)',
          );
          if (o.port !== undefined && !o.start) throw new UsageError('usage.flagConflict', '--port needs --start: it is the port the restored server starts on');
          const timeline = intFlag('--timeline', o.timeline, { min: 1 });
          const port = portFlag('--port', o.port);
          const r = await restoreRunbook(ctx, o, 'pitr-restore', {
            pitr: recoveryTarget(o.pitr),
            targetDir: o.targetDir,
            backup: o.backup,
            repo: o.repo ?? ctx.config.repo,
            timeline,
            start: o.start ? 'true' : undefined,
            port,
            archive: o.archive === false ? 'false' : undefined,
          });
          const out = r.restored;
          if (r.exitCode === 0 && out) {
            if (out.archiving) output.note(out.archiving === 'off' ? 'archiving: off on the restored server' : `archiving: on (${String(out.archiving)}): the new timeline is archived`);
            output.result(
              out.started
                ? `restored ${String(out.backupId)} into ${String(out.dataDir)}; promoted on timeline ${String(out.timeline)}; data as of ${String(out.recoveryPoint || out.stoppedAt)} (RPO ${formatDuration(Number(out.dataLossMs ?? 0))})\n`
                : `restored ${String(out.backupId)} into ${String(out.dataDir)} with ${String(out.walFiles)} WAL file(s) spooled; start it with: pg_ctl -D ${String(out.dataDir)} start\n`,
            );
          }
          return r.exitCode;
        }
        if (o.target === undefined) throw new UsageError('usage.target', 'restore needs --target <pg-url> (logical) or --target-dir <path> (physical / --pitr)');
        refuseFlags(
          { '--timeline': o.timeline !== undefined, '--start': o.start === true, '--port': o.port !== undefined, '--no-archive': o.archive === false },
          'only for a physical restore (--target-dir), not with --target (a logical restore into a database)',
        );
        await refuseAmbiguousLatest(ctx, o);
        const r = await restoreRunbook(ctx, o, 'restore', {
          backup: o.backup,
          target: pgUrlFlag('--target', o.target),
          repo: o.repo ?? ctx.config.repo,
          jobs: intFlag('--jobs', o.jobs, { min: 1, max: 1024 }),
          schema: o.schema,
          table: o.table,
          clean: o.clean ? 'true' : undefined,
          noOwner: o.owner === false ? 'true' : undefined,
          roles: o.roles === false ? 'false' : undefined,
        });
        const out = r.restored;
        if (r.exitCode === 0 && out?.rowCounts && typeof out.rowCounts === 'object') {
          const estimated = new Set((out.estimated ?? []) as string[]);
          const rows = Object.entries(out.rowCounts as Record<string, number>).map(([t, n]) => [t, `${estimated.has(t) ? '~' : ''}${n}`]);
          output.result(`restored ${String(out.backupId)} (data as of ${String(out.recoveryPoint)})\n${formatTable(['table', 'rows'], rows)}`);
          const roles = Array.isArray(out.rolesCreated) ? out.rolesCreated.map(String) : [];
          if (roles.length) output.result(`created role(s): ${roles.join(', ')}\n`);
          if (estimated.size) output.result('~ planner estimate after ANALYZE (tables of a million rows or more)\n');
        }
        return r.exitCode;
      }),
    );
}

/**
 * Runs a built-in restore runbook (or --runbook) with these inputs. With --json the result
 * document is printed here; otherwise `restored` holds the restore step's outputs for the
 * one-line summary, `succeeded` whether that step succeeded.
 */
async function restoreRunbook(ctx: CliContext, o: RestoreFlags, name: BuiltInRunbook, inputs: ExecuteOptions['inputs']): Promise<{ exitCode: number; restored?: Outputs; succeeded: boolean }> {
  const r = await executeRunbook(ctx, builtInRunbook(ctx, name, o.runbook), { inputs, json: o.json });
  if (o.json) {
    output.jsonResult(runResult(r, { dryRun: ctx.dryRun, step: 'restore', as: 'restore' }));
    return { exitCode: r.exitCode, succeeded: false };
  }
  const step = r.report?.steps.find((s) => s.id === 'restore');
  return { exitCode: r.exitCode, restored: step?.outputs, succeeded: step?.status === 'succeeded' };
}

/**
 * `--backup latest` among the logical backups of several databases is refused here, in one
 * line, before the run starts and connects anywhere. Whatever else resolving it meets (no
 * repository, no backup, a store that is down) the run reports, in its step, as before.
 */
async function refuseAmbiguousLatest(ctx: CliContext, o: RestoreFlags): Promise<void> {
  if (o.backup !== 'latest') return;
  // Loaded here: the repository code is needed only when there is a "latest" to resolve.
  const [{ openRepository }, { AMBIGUOUS_LATEST }] = await Promise.all([import('../open-repository.js'), import('../../repository/repository.js')]);
  try {
    await (await openRepository(ctx, o.repo, { notice: () => {} })).resolve('latest', ['logical']);
  } catch (err) {
    if (err instanceof UsageError && err.code === AMBIGUOUS_LATEST) throw err;
  }
}

/**
 * --pitr as an instant, resolved once, here: "10 minutes ago" means ten minutes before the
 * command was typed, whatever the steps before the restore take.
 */
function recoveryTarget(pitr: string | undefined): string | undefined {
  if (pitr === undefined || pitr === 'latest') return pitr;
  const at = parseTimePoint(pitr, '--pitr').toISOString();
  output.note(`recovery target: ${at} (UTC)`);
  return at;
}

/** --provider: the provider's own point-in-time recovery, timed and verified like ours. */
async function restoreManaged(ctx: CliContext, o: RestoreFlags): Promise<number> {
  if (o.provider !== 'supabase' && o.provider !== 'render') {
    throw new UsageError('usage.provider', o.provider === undefined ? '--project needs --provider supabase|render' : `--provider ${o.provider}: use supabase or render`);
  }
  if (!o.project) throw new UsageError('usage.provider', `--provider ${o.provider} needs --project <${o.provider === 'supabase' ? 'project ref' : 'Render Postgres id'}>`);
  refuseFlags(
    {
      '--target': o.target !== undefined,
      '--target-dir': o.targetDir !== undefined,
      '--repo': o.repo !== undefined,
      '--timeline': o.timeline !== undefined,
      '--start': o.start === true,
      '--port': o.port !== undefined,
      '--no-archive': o.archive === false,
      '--jobs': o.jobs !== undefined,
      '--schema': o.schema !== undefined,
      '--table': o.table !== undefined,
      '--clean': o.clean === true,
      '--no-owner': o.owner === false,
      '--backup': o.provider === 'render' && o.backup !== 'latest',
    },
    `not with --provider ${o.provider}: the provider restores its own database`,
  );
  const pitr = recoveryTarget(o.pitr ?? 'latest');
  const inputs =
    o.provider === 'supabase'
      ? { project: o.project, pitr, backup: o.backup !== 'latest' ? o.backup : undefined }
      : { postgres: o.project, pitr };
  const r = await restoreRunbook(ctx, o, `${o.provider}-pitr`, inputs);
  const out = r.restored;
  if (out && r.succeeded) {
    output.result(
      o.provider === 'supabase'
        ? `restored Supabase project ${o.project} in place to ${out.mode === 'backup' ? `daily backup ${String(out.backupId)} of ` : ''}${String(out.recoveryPoint)}; unavailable for ${String(out.unavailable)}\n`
        : `recovered Render Postgres ${o.project} as of ${String(out.recoveryPoint)} into new instance ${String(out.postgresId)}${out.name ? ` (${String(out.name)})` : ''}; connect with ${String(out.url)}\n`,
    );
  }
  return r.exitCode;
}
