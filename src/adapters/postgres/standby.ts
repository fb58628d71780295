import { appendFile, lchown, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { secrets } from '../../redact.js';
import { parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction, type ActionContext } from '../types.js';
import { postmasterProbe, startCluster, watchLog } from './cluster.js';
import { restoreOwner } from './owner.js';
import { parseLog, serverLines, STANDBY_LOG as LOG, WATCHED_LOG_OPTIONS } from './server-log.js';

// postgres.standby: a standby built from the repository, as pgBackRest's --type=standby does:
// the newest base backup and the archived WAL restored exactly as a point-in-time restore
// would (same checks, same verified spool), then standby.signal instead of recovery.signal, so
// the server never ends recovery by itself. It keeps reading the repository through
// restore_command, and streams from the primary when primary_conninfo is given. Done when the
// server is replaying and accepts read-only connections.

const Input = z.strictObject({
  targetDir: z.string().min(1).meta({ description: 'data directory of the new standby' }),
  backup: z.string().default('latest'),
  repo: z.string().optional(),
  primaryConninfo: z.string().optional().meta({ description: 'libpq URL or key=value string of the primary, to stream from it (default: archive only)' }),
  port: z.number().int().min(1).max(65535).optional(),
  archive: z.boolean().optional().meta({ description: 'false: archive_mode off (a scratch standby whose promotion must not archive into the repository); default: off in a drill, as configured otherwise' }),
  start: z.boolean().default(true).meta({ description: 'start the standby and wait until it is replaying' }),
  startTimeout: z.string().default('30m'),
});

export const postgresStandby = defineAction({
  name: 'postgres.standby',
  summary: 'Build a standby from the repository (base backup, WAL, standby.signal) and start it',
  input: Input,
  outputs: ['backupId', 'dataDir', 'started', 'replaying', 'streaming', 'walFiles', 'timeline'],
  describe: (i) => `build a standby from ${i.backup === 'latest' ? 'the newest base backup' : i.backup} into ${i.targetDir}${i.primaryConninfo ? ', streaming from the primary' : ', replaying from the repository'}`,
  async run(ctx, i) {
    if (i.primaryConninfo) secrets.add(i.primaryConninfo);
    // Loaded here: restoring pulls in the repository, WAL planning and process modules.
    const { physicalRestore } = await import('./restore-physical.js');
    const repo = await openRepo(ctx, i.repo);
    const restored = await physicalRestore(ctx, repo, {
      backup: i.backup,
      targetDir: i.targetDir,
      start: false,
      port: i.port,
      // Archiving starts at promotion (or with archive_mode = always): a scratch standby must not
      // push its new timeline into the repository the real primary uses.
      archive: i.archive,
      startTimeoutMs: parseDuration(i.startTimeout, 'startTimeout'),
    });
    const dir = String(restored.dataDir);
    await toStandby(dir, i.primaryConninfo);
    const base = { backupId: restored.backupId, dataDir: dir, walFiles: restored.walFiles };
    if (!i.start) {
      ctx.log(`prepared standby ${dir}; start it with: pg_ctl -D ${dir} start`);
      return { ...base, started: false, replaying: false, streaming: false, timeline: null };
    }
    const s = await startStandby(ctx, dir, parseDuration(i.startTimeout, 'startTimeout'), i.primaryConninfo !== undefined);
    ctx.log(`standby on ${dir} is replaying${s.streaming ? ' and streaming from the primary' : ' from the repository'}${s.timeline ? ` (timeline ${s.timeline})` : ''}`);
    return { ...base, started: true, replaying: true, streaming: s.streaming, timeline: s.timeline ?? null };
  },
});

/** recovery.signal → standby.signal, and the settings a standby needs on top of the restore's. */
async function toStandby(dir: string, primaryConninfo: string | undefined): Promise<void> {
  await rm(path.join(dir, 'recovery.signal'), { force: true });
  const signal = path.join(dir, 'standby.signal');
  await writeFile(signal, '', { mode: 0o600 });
  const settings: Record<string, string> = { hot_standby: 'on', recovery_target_timeline: 'latest' };
  if (primaryConninfo) settings.primary_conninfo = primaryConninfo;
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  await appendFile(path.join(dir, 'postgresql.auto.conf'), `# drctl standby\n${conf.join('\n')}\n`);
  const own = restoreOwner(dir);
  if (own) await lchown(signal, own.uid, own.gid);
}

async function startStandby(ctx: ActionContext, dir: string, timeoutMs: number, streamingWanted: boolean): Promise<{ streaming: boolean; timeline?: number }> {
  const log = path.join(dir, LOG);
  // A log already there is another server's (server-log.ts): only this start's lines may decide.
  await rm(log, { force: true });
  await startCluster(ctx, dir, { log, code: 'standby.start', serverOptions: WATCHED_LOG_OPTIONS });
  // Streaming starts once the archive has nothing more to give; waiting for it is bounded.
  let readyAt: number | undefined;
  const verdict = await watchLog(ctx, log, Date.now() + timeoutMs, (text) => {
    // Only the postmaster's and the startup process's errors count: the walreceiver retries a
    // primary it cannot reach, and clients refused while the standby starts are not its failure.
    const own = serverLines(parseLog(text));
    const fatal = own.find((l) => l.level === 'FATAL' || l.level === 'PANIC');
    if (fatal) throw new OperationError('standby.fatal', `the standby failed: ${fatal.message}`);
    if (own.some((l) => /^database system is shut down/.test(l.message))) throw new OperationError('standby.fatal', `the standby shut down during start-up (see ${log})`);
    const ready = /entering standby mode/.test(text) && /database system is ready to accept read-only connections/.test(text);
    const streaming = /started streaming WAL from primary/.test(text);
    const tl = /started streaming WAL from primary at \S+ on timeline (\d+)/.exec(text);
    if (ready) readyAt ??= Date.now();
    if (!ready || (streamingWanted && !streaming && Date.now() - (readyAt ?? 0) <= 30_000)) return undefined;
    if (streamingWanted && !streaming) ctx.log(`the standby replays from the repository but is not streaming yet (see ${log})`);
    return { streaming, timeline: tl ? Number(tl[1]) : undefined };
  }, {
    onLine: (line) => ctx.progress({ message: line.replace(/^.*?(LOG|WARNING):\s+/, '') }),
    ended: {
      running: postmasterProbe(dir),
      verdict: () => {
        throw new OperationError('standby.fatal', `the standby's server stopped during start-up without writing why (killed?; see ${log})`);
      },
    },
  });
  if (verdict) return verdict;
  throw new OperationError('standby.timeout', `the standby did not reach a consistent, replaying state within ${Math.round(timeoutMs / 1000)}s (see ${log})`);
}
