import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { spawnProcess } from '../../process/run-process.js';
import { parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction, type ActionContext } from '../types.js';
import { connectRedis, info, keyCount, parseRedisUrl, redisError, rdbPath } from './client.js';

// redis.backup: an RDB snapshot into the repository. BGSAVE completion is judged the reliable
// way: the save counter (or rdb_last_save_time) advanced, no save in progress, last status ok;
// LASTSAVE alone can be satisfied by someone else's older save.

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
