import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { connectRedis, info, parseRedisUrl, redisError } from './client.js';

// redis.ping: PING, then what a failing Redis shows in INFO: a failed last BGSAVE, a replica
// whose link to its master is down (Redis failure recovery).

export const redisPing = defineAction({
  name: 'redis.ping',
  summary: 'PING Redis and check persistence and replication health',
  input: z.strictObject({ url: z.string().optional().meta({ description: 'default: REDIS_URL' }) }),
  outputs: ['role', 'latencyMs', 'usedMemory', 'connectedClients', 'lastSave', 'figure'],
  describe: () => 'PING Redis, check INFO persistence and replication',
  async run(ctx, i) {
    const t = parseRedisUrl(i.url ?? ctx.env.REDIS_URL);
    const t0 = performance.now();
    const client = await connectRedis(t, ctx.signal);
    try {
      await client.ping();
      const latencyMs = Math.round(performance.now() - t0);
      const all = await info(client);
      const role = all.role ?? 'unknown';
      const problems: string[] = [];
      if (all.rdb_last_bgsave_status === 'err') problems.push('the last background save failed (rdb_last_bgsave_status:err)');
      if (all.aof_last_write_status === 'err') problems.push('the last AOF write failed');
      if (role === 'slave' && all.master_link_status !== 'up') problems.push(`replica has lost its master ${all.master_host}:${all.master_port} (master_link_status:${all.master_link_status})`);
      const figure = `${role}, ${all.used_memory_human ?? '?'} used, ${all.connected_clients ?? '?'} clients, ${latencyMs} ms`;
      if (problems.length) throw new OperationError('redis.unhealthy', `Redis at ${t.host}:${t.port}: ${problems.join('; ')}`);
      return { role, latencyMs, usedMemory: Number(all.used_memory ?? 0), connectedClients: Number(all.connected_clients ?? 0), lastSave: Number(all.rdb_last_save_time ?? 0), figure };
    } catch (err) {
      throw redisError(err, t);
    } finally {
      client.disconnect();
    }
  },
});
