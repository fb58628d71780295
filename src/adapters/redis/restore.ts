import { createWriteStream } from 'node:fs';
import { readlink, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfirmationError, DrctlError, OperationError, UsageError } from '../../errors.js';
import { commandEnv, stringValues } from '../../process/child-env.js';
import { runProcess, spawnProcess } from '../../process/run-process.js';
import { parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction, type ActionContext } from '../types.js';
import { connectRedis, info, keyCount, parseRedisUrl, redisError, type RedisTarget, rdbPath } from './client.js';

// redis.restore: Redis failure recovery from a snapshot in the repository: verify it, stop
// Redis, put the RDB in place, start Redis and wait until it has loaded.

export const redisRestore = defineAction({
  name: 'redis.restore',
  summary: 'Replace the RDB snapshot of a Redis server with one from the repository and restart it',
  input: z.strictObject({
    url: z.string().optional(),
    repo: z.string().optional(),
    backup: z.string().default('latest'),
    startCommand: z.string().min(1).meta({ description: 'shell command that starts the server again (e.g. systemctl start redis-server)' }),
    stopCommand: z.string().optional().meta({ description: 'default: SHUTDOWN NOSAVE' }),
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).meta({ description: "Variables for the start and stop commands; drctl's own secrets reach them only when named here" }),
    timeout: z.string().default('2m'),
  }),
  outputs: ['backupId', 'keys', 'recoveryPoint'],
  shellInputs: ['startCommand', 'stopCommand'],
  describe: (i) => `stop Redis, replace its RDB with backup ${i.backup}, start it with: ${i.startCommand}`,
  async run(ctx, i) {
    const t = parseRedisUrl(i.url ?? ctx.env.REDIS_URL);
    const repo = await openRepo(ctx, i.repo);
    const m = await repo.resolve(i.backup, ['redis']);
    const entry = m.objects[0]!;
    const client = await connectRedis(t, ctx.signal);
    let file: string;
    let current: number;
    try {
      const p = await info(client, 'persistence');
      if (p.aof_enabled === '1') {
        throw new UsageError('usage.redisAof', `Redis at ${t.host}:${t.port} has appendonly on: it would load its AOF, not this snapshot. Turn appendonly off for the restore`);
      }
      file = await rdbPath(client);
      current = await keyCount(client);
      const why = await notLocal(await info(client, 'server'), file);
      if (why) {
        const x = new OperationError('redis.notLocal', `Redis at ${t.host}:${t.port} left untouched: its data directory is not this host's (${why}). Run drctl on the Redis host, as root or Redis's user`);
        x.retryable = false;
        throw x;
      }
    } catch (err) {
      client.disconnect();
      throw redisError(err, t);
    }
    // Verified before anything is stopped: the snapshot goes to a temp name next to the RDB.
    const tmp = `${file}.drctl-restore`;
    try {
      await pipeline(await repo.readObject(m, entry, { signal: ctx.signal }), createWriteStream(tmp), { signal: ctx.signal });
    } catch (err) {
      client.disconnect();
      await rm(tmp, { force: true });
      throw err;
    }
    const ok = await ctx.confirm(`Replace the data of Redis at ${t.host}:${t.port} (${current} keys) with backup ${m.id} (${String(m.extra?.keys ?? '?')} keys)?`);
    if (!ok) {
      client.disconnect();
      await rm(tmp, { force: true });
      throw new ConfirmationError('confirm.declined', `declined: Redis at ${t.host}:${t.port} left untouched`);
    }
    // The temp file is the size of the dataset, on Redis's disk: it goes on every failure.
    try {
      if (i.stopCommand) {
        client.disconnect();
        const r = await runProcess('/bin/sh', ['-c', i.stopCommand], { signal: ctx.signal, env: commandEnv(ctx.env, stringValues(i.env)) });
        if (r.exitCode !== 0) throw new OperationError('redis.stop', `stop command exited with ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
      } else {
        await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
        client.disconnect();
      }
      await waitDown(ctx, t, parseDuration(i.timeout, 'timeout'));
      await rename(tmp, file);
    } catch (err) {
      client.disconnect();
      await rm(tmp, { force: true });
      throw redisError(err, t);
    }
    const start = await spawnProcess('/bin/sh', ['-c', i.startCommand], { signal: new AbortController().signal, env: commandEnv(ctx.env, stringValues(i.env)), stdout: 'ignore' });
    void start.done;
    const { keys, persistence: p } = await waitUp(ctx, t, parseDuration(i.timeout, 'timeout'));
    checkKeys(ctx, m.id, keys, p, Number(m.extra?.keys ?? -1), Number(m.extra?.expires ?? 0));
    ctx.log(`Redis at ${t.host}:${t.port} restarted from ${m.id} with ${keys} keys`);
    return { backupId: m.id, keys, recoveryPoint: m.recoveryPoint };
  },
});

/**
 * Why the server's RDB file is not the file at the same path here, or undefined when it is.
 * The server reports its pid (INFO process_id) and the path of its data directory as it sees
 * them. Only when that pid is, on this host, the same server binary, and the directory seen
 * through that process's own root (/proc/<pid>/root, which follows its mount namespace) is the
 * very directory (device and inode) we see at that path, is the file we would replace the one
 * it loads. A server in a container or on another machine fails one of these: its pid is
 * another process here (or none), or its directory is another filesystem. Without /proc
 * (not Linux) there is nothing to check against, and the operator's word stands.
 */
async function notLocal(server: Record<string, string>, file: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  const pid = Number(server.process_id);
  if (!Number.isInteger(pid) || pid <= 0) return 'it does not report its process id';
  const dir = path.dirname(file);
  let exe: string;
  try {
    exe = (await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `no process ${pid} here`;
    return `process ${pid} cannot be inspected here (${code ?? 'error'})`;
  }
  // Debian's redis-server is a link to redis-check-rdb: the name is checked loosely.
  const name = path.basename(exe);
  if (name !== path.basename(server.executable ?? '') && !/redis|valkey|keydb/.test(name)) return `process ${pid} here is ${exe}, not the server`;
  try {
    const [theirs, ours] = await Promise.all([stat(path.join(`/proc/${pid}/root`, dir)), stat(dir)]);
    if (theirs.dev !== ours.dev || theirs.ino !== ours.ino) return `${dir} for the server is another directory than ${dir} here`;
  } catch (err) {
    return `${dir} cannot be compared (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return undefined;
}

/**
 * Redis drops keys whose TTL passed while it loads an RDB: fewer keys than the backup recorded
 * is then a correct restore. Redis 7 counts both (rdb_last_load_keys_loaded/_expired), so the
 * sum must be the recorded count exactly. Older servers do not say: fewer keys, by no more than
 * the backup's keys with a TTL, may be expiry and is reported; anything else fails.
 */
function checkKeys(ctx: ActionContext, id: string, keys: number, p: Record<string, string>, want: number, expires: number): void {
  if (want < 0) return;
  if (p.rdb_last_load_keys_loaded !== undefined && p.rdb_last_load_keys_expired !== undefined) {
    const loaded = Number(p.rdb_last_load_keys_loaded);
    const expired = Number(p.rdb_last_load_keys_expired);
    if (loaded + expired !== want) throw new OperationError('redis.keys', `Redis loaded ${loaded} keys (and ${expired} expired) from backup ${id}, which recorded ${want}`);
    if (expired > 0) ctx.log(`${expired} keys of backup ${id} had expired (their TTL passed) and were not loaded`);
    return;
  }
  if (keys === want) return;
  if (keys < want && want - keys <= expires) {
    ctx.log(`warning: Redis came back with ${keys} keys; backup ${id} recorded ${want}, of which ${expires} had a TTL: the difference may be keys that expired (this Redis does not report it)`);
    return;
  }
  throw new OperationError('redis.keys', `Redis came back with ${keys} keys; backup ${id} recorded ${want}`);
}

async function waitDown(ctx: ActionContext, t: RedisTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await connectRedis(t, ctx.signal, deadline - Date.now());
      c.disconnect();
    } catch (err) {
      // Only a refused connection is a stopped server: one that does not answer is still
      // running, and its file must not be replaced under it.
      if (err instanceof DrctlError && err.code === 'redis.connect') return;
      last = err;
    }
    await sleep(200, undefined, { signal: ctx.signal });
  }
  throw new OperationError('redis.stop', `Redis at ${t.host}:${t.port} is still up after the stop${last ? `: ${(last as Error).message}` : ''}`);
}

async function waitUp(ctx: ActionContext, t: RedisTarget, timeoutMs: number): Promise<{ keys: number; persistence: Record<string, string> }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await connectRedis(t, ctx.signal, deadline - Date.now());
      try {
        const p = await info(c, 'persistence');
        if (p.loading === '0') return { keys: await keyCount(c), persistence: p };
      } finally {
        c.disconnect();
      }
    } catch (err) {
      last = err;
    }
    await sleep(200, undefined, { signal: ctx.signal });
  }
  throw new OperationError('redis.start', `Redis at ${t.host}:${t.port} did not come back after the start command${last ? `: ${(last as Error).message}` : ''}`);
}
