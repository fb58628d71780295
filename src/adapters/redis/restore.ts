import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
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
