import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
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
import { connectRedis, info, parseRedisUrl, redisError, rdbPath } from './client.js';
import { readRdbHeader, type RdbHeader } from './rdb.js';

// redis.backup: an RDB snapshot into the repository. BGSAVE completion is judged the reliable
// way: the save counter (or rdb_last_save_time) advanced, no save in progress, last status ok;
// LASTSAVE alone can be satisfied by someone else's older save.

/** What the server told us about the snapshot it took. */
interface Saved {
  /** Server clock (seconds) just before the save was asked for. */
  askedAt: number;
  /** rdb_last_save_time once the save finished. */
  lastSave: number;
  /** INFO keyspace of the fork, when the counts did not change during the save. */
  keyspace?: Record<string, string>;
}

async function bgsave(ctx: ActionContext, client: Redis, timeoutMs: number): Promise<Saved> {
  const deadline = Date.now() + timeoutMs;
  const before = await info(client, 'persistence');
  const savesBefore = before.rdb_saves !== undefined ? Number(before.rdb_saves) : undefined;
  const timeBefore = Number(before.rdb_last_save_time ?? 0);
  // The key counts of the fork are what the file holds. BGSAVE cannot share a transaction with
  // INFO (inside MULTI it is only scheduled), so they are taken on both sides of the save and
  // trusted when they agree.
  const ksBefore = await info(client, 'keyspace');
  const askedAt = Number((await client.time())[0]);
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
      const ksAfter = await info(client, 'keyspace');
      const keyspace = JSON.stringify(counts(ksBefore)) === JSON.stringify(counts(ksAfter)) ? ksAfter : undefined;
      return { askedAt, lastSave: Number(p.rdb_last_save_time), keyspace };
    }
    if (Date.now() > deadline) throw new OperationError('redis.bgsave', `BGSAVE did not finish within ${Math.round(timeoutMs / 1000)}s`);
    await sleep(100, undefined, { signal: ctx.signal });
  }
}

/**
 * Why the file at `file` on this host is not the snapshot the server just saved, or undefined
 * when it is. The server saves where *it* sees CONFIG GET dir; that path can exist here with
 * another file in it (Redis in a container, on another machine). The file's own ctime (written
 * by the saving process, by the server's clock, so no clock skew between hosts matters) must
 * fall within this save, and its first database must hold the key counts of the fork.
 */
function notOurs(header: RdbHeader | undefined, saved: Saved): string | undefined {
  if (!header) return 'it is not an RDB file';
  const ctime = Number(header.aux.ctime);
  if (!Number.isFinite(ctime)) return 'it has no save time';
  if (ctime < saved.askedAt || ctime > saved.lastSave) return `it was saved at ${new Date(ctime * 1000).toISOString()}, not by this BGSAVE`;
  if (saved.keyspace && header.firstDb !== undefined) {
    const first = Object.entries(saved.keyspace).find(([, v]) => Number(/keys=(\d+)/.exec(v)?.[1] ?? 0) > 0);
    const want = first ? { db: Number(first[0].slice(2)), keys: count(first[1], 'keys'), expires: count(first[1], 'expires') } : null;
    const got = header.firstDb;
    if (JSON.stringify(want) !== JSON.stringify(got)) return `its keys (${got ? `db${got.db}: ${got.keys}` : 'none'}) are not the server's (${want ? `db${want.db}: ${want.keys}` : 'none'})`;
  }
  return undefined;
}

function count(v: string, field: string): number {
  return Number(new RegExp(`${field}=(\\d+)`).exec(v)?.[1] ?? 0);
}

function counts(ks: Record<string, string>): [string, number, number][] {
  return Object.entries(ks).map(([db, v]) => [db, count(v, 'keys'), count(v, 'expires')]);
}

function keyspaceTotals(ks: Record<string, string>): { keys: number; expires: number } {
  return Object.values(ks).reduce((t, v) => ({ keys: t.keys + count(v, 'keys'), expires: t.expires + count(v, 'expires') }), { keys: 0, expires: 0 });
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
      let { keys, expires } = keyspaceTotals(await info(client, 'keyspace'));
      let body: Readable;
      let finish: () => Promise<void> = async () => {};
      const file = await rdbPath(client);
      if (i.source === 'file' || (i.source === 'auto' && existsSync(path.dirname(file)))) {
        const saved = await bgsave(ctx, client, parseDuration(i.timeout, 'timeout'));
        if (saved.keyspace) ({ keys, expires } = keyspaceTotals(saved.keyspace));
        // Checked and stored through one open file: a later save renaming a new file into place
        // cannot slip in between.
        const fh = await open(file, 'r').catch(() => undefined);
        const why = fh ? notOurs(await readRdbHeader(fh), saved) : 'it does not exist';
        if (why) {
          await fh?.close();
          const x = new OperationError(
            'redis.notLocal',
            `${file} on this host is not the snapshot Redis at ${t.host}:${t.port} just saved (${why}): the server's data directory is not this host's (a container or another machine). Use source: replication (drctl redis backup --source replication)`,
          );
          x.retryable = false;
          throw x;
        }
        body = fh!.createReadStream({ highWaterMark: 1024 * 1024 });
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
        extra: { keys, expires },
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
