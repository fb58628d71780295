import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { commandEnv, stringValues } from '../../process/child-env.js';
import { runProcess, spawnProcess } from '../../process/run-process.js';
import { parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction, type ActionContext } from '../types.js';
import { connectRedis, info, keyCount, parseRedisUrl, redisError, type RedisTarget } from './client.js';

// Redis RDB snapshots into and out of the repository (hourly RDB snapshots,
// Redis failure recovery). BGSAVE completion is judged the reliable way: the save counter
// (or rdb_last_save_time) advanced, no save in progress, last status ok; LASTSAVE alone can
// be satisfied by someone else's older save.

async function bgsave(ctx: ActionContext, client: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const before = await info(client, 'persistence');
  const savesBefore = before.rdb_saves !== undefined ? Number(before.rdb_saves) : undefined;
  const timeBefore = Number(before.rdb_last_save_time ?? 0);
  // A save already running started before we were asked: wait for it, then take our own.
  for (;;) {
    try {
      await client.bgsave();
      break;
    } catch (err) {
      if (!/already in progress/i.test((err as Error).message)) throw err;
      ctx.log('a background save is already running; waiting for it before taking ours');
      if (Date.now() > deadline) throw new OperationError('redis.bgsave', 'a background save kept running past the timeout');
      await sleep(200, undefined, { signal: ctx.signal });
    }
  }
  for (;;) {
    const p = await info(client, 'persistence');
    const done = p.rdb_bgsave_in_progress === '0' && (savesBefore !== undefined ? Number(p.rdb_saves) > savesBefore : Number(p.rdb_last_save_time) > timeBefore);
    if (done) {
      if (p.rdb_last_bgsave_status !== 'ok') throw new OperationError('redis.bgsave', `BGSAVE failed (rdb_last_bgsave_status:${p.rdb_last_bgsave_status}); see the Redis log`);
      return;
    }
    if (Date.now() > deadline) throw new OperationError('redis.bgsave', `BGSAVE did not finish within ${Math.round(timeoutMs / 1000)}s`);
    await sleep(100, undefined, { signal: ctx.signal });
  }
}

async function rdbPath(client: Redis): Promise<string> {
  const dir = (await client.config('GET', 'dir')) as string[];
  const file = (await client.config('GET', 'dbfilename')) as string[];
  return path.join(dir[1] ?? '.', file[1] ?? 'dump.rdb');
}

export const redisBackup = defineAction({
  name: 'redis.backup',
  summary: 'BGSAVE and store the RDB snapshot in the repository',
  input: z.strictObject({
    url: z.string().optional(),
    repo: z.string().optional(),
    label: z.string().optional(),
    source: z.enum(['auto', 'file', 'replication']).default('auto').meta({ description: 'read the RDB file locally, or over the replication protocol (redis-cli --rdb)' }),
    timeout: z.string().default('10m'),
  }),
  outputs: ['backupId', 'bytes', 'keys', 'recoveryPoint'],
  describe: (i) => `BGSAVE and store the RDB snapshot in ${i.repo ?? 'the configured repository'}`,
  async run(ctx, i) {
    const t = parseRedisUrl(i.url ?? ctx.env.REDIS_URL);
    const client = await connectRedis(t, ctx.signal);
    try {
      const repo = await openRepo(ctx, i.repo, { create: true });
      const server = await info(client, 'server');
      const startedAt = new Date();
      const keys = await keyCount(client);
      let body: Readable;
      let finish: () => Promise<void> = async () => {};
      const file = await rdbPath(client);
      if (i.source === 'file' || (i.source === 'auto' && existsSync(path.dirname(file)))) {
        await bgsave(ctx, client, parseDuration(i.timeout, 'timeout'));
        body = createReadStream(file, { highWaterMark: 1024 * 1024 });
      } else {
        // Not on this machine: the replication protocol delivers a fresh snapshot.
        const args = ['-h', t.host, '-p', String(t.port), '--rdb', '-'];
        const password = new URL(t.url).password;
        const proc = await spawnProcess('redis-cli', args, { signal: ctx.signal, env: { PATH: ctx.env.PATH, ...(password ? { REDISCLI_AUTH: decodeURIComponent(password) } : {}) } });
        body = proc.stdout as Readable;
        finish = async () => {
          const r = await proc.done;
          if (r.exitCode !== 0) throw new OperationError('redis.rdb', `redis-cli --rdb failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
        };
      }
      const id = await repo.newBackupId('redis');
      const entry = await repo.writeObject(id, 'dump.rdb', body, { signal: ctx.signal, onBytes: (bytes) => ctx.progress({ bytes }) });
      await finish();
      const stoppedAt = new Date();
      const m = await repo.commit({
        id,
        kind: 'redis',
        label: i.label,
        source: { host: t.host, port: t.port, redisVersion: server.redis_version ?? '', role: (await info(client, 'replication')).role ?? '', keys },
        startedAt: startedAt.toISOString(),
        stoppedAt: stoppedAt.toISOString(),
        durationMs: stoppedAt.getTime() - startedAt.getTime(),
        recoveryPoint: stoppedAt.toISOString(),
        objects: [entry],
        extra: { keys },
      });
      ctx.log(`backup ${id}: ${keys} keys, ${entry.size} bytes`);
      return { backupId: id, bytes: m.size, keys, recoveryPoint: m.recoveryPoint };
    } catch (err) {
      throw redisError(err, t);
    } finally {
      client.disconnect();
    }
  },
});

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
        throw new UsageError(`Redis at ${t.host}:${t.port} has appendonly on: it would load its AOF, not this snapshot. Turn appendonly off for the restore`, 'usage.redisAof');
      }
      file = await rdbPath(client);
      current = await keyCount(client);
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
      throw new ConfirmationError(`declined: Redis at ${t.host}:${t.port} left untouched`);
    }
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
    const start = await spawnProcess('/bin/sh', ['-c', i.startCommand], { signal: new AbortController().signal, env: commandEnv(ctx.env, stringValues(i.env)), stdout: 'ignore' });
    void start.done;
    const keys = await waitUp(ctx, t, parseDuration(i.timeout, 'timeout'));
    const want = Number(m.extra?.keys ?? -1);
    if (want >= 0 && keys !== want) throw new OperationError('redis.keys', `Redis came back with ${keys} keys; backup ${m.id} recorded ${want}`);
    ctx.log(`Redis at ${t.host}:${t.port} restarted from ${m.id} with ${keys} keys`);
    return { backupId: m.id, keys, recoveryPoint: m.recoveryPoint };
  },
});

async function waitDown(ctx: ActionContext, t: RedisTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const c = await connectRedis(t, ctx.signal);
      c.disconnect();
    } catch {
      return;
    }
    await sleep(200, undefined, { signal: ctx.signal });
  }
  throw new OperationError('redis.stop', `Redis at ${t.host}:${t.port} is still up after the stop`);
}

async function waitUp(ctx: ActionContext, t: RedisTarget, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await connectRedis(t, ctx.signal);
      try {
        const p = await info(c, 'persistence');
        if (p.loading === '0') return await keyCount(c);
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

