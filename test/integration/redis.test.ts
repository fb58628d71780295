import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { drctl, tempDir } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const servers: RedisServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

async function seed(url: string): Promise<Record<string, unknown>> {
  const r = new Redis(url);
  await r.set('session:1', 'alice');
  await r.set('bin', Buffer.from([0, 255, 1, 2]));
  await r.hset('lead:42', { name: 'Bob', phone: '+447700900123', status: 'booked' });
  await r.rpush('queue:calls', 'c1', 'c2', 'c3');
  await r.sadd('tenants', 't1', 't2');
  await r.zadd('scores', 10, 'a', 20, 'b');
  await r.set('ttl-key', 'x', 'EX', 3600);
  await r.select(3);
  await r.set('db3-key', 'three');
  await r.select(0);
  r.disconnect();
  return read(url);
}

/** The values of every key seed() wrote, for comparing before and after a restore. */
async function read(url: string): Promise<Record<string, unknown>> {
  const r = new Redis(url);
  const out = {
    session: await r.get('session:1'),
    bin: (await r.getBuffer('bin'))?.toString('hex'),
    lead: await r.hgetall('lead:42'),
    queue: await r.lrange('queue:calls', 0, -1),
    tenants: (await r.smembers('tenants')).sort(),
    scores: await r.zrange('scores', 0, -1, 'WITHSCORES'),
    db3: await r.select(3).then(() => r.get('db3-key')),
  };
  r.disconnect();
  return out;
}


describe('Redis backup and restore', () => {
  it('backs up keys of several types, survives FLUSHALL, and restores them with the same values', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const before = await seed(redis.url);
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    const b = await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    const id = b.stdout.trim();
    expect(id).toMatch(/^\d{8}T\d{6}Z-redis$/);
    const m = JSON.parse((await drctl(['backups', 'show', id, '--repo', repo])).stdout);
    expect(m.extra.keys).toBe(8);

    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();

    const no = await drctl(['redis', 'restore', '--url', redis.url, '--repo', repo, '--start-command', redis.startCommand]);
    expect(no.code).toBe(4);
    // The start command is the operator's code, but it does not inherit drctl's secrets.
    const envDump = path.join(tempDir(), 'start-env');
    const r = await drctl(['redis', 'restore', '--url', redis.url, '--repo', repo, '--start-command', `env > '${envDump}'; ${redis.startCommand}`, '--yes'], {
      env: { AWS_SECRET_ACCESS_KEY: 'canary-aws-redis-1f2e', TWILIO_AUTH_TOKEN: 'canary-twilio-redis-3d4c' },
    });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toBe(`restored ${id}: 8 keys\n`);
    expect(await read(redis.url)).toEqual(before);
    const seen = readFileSync(envDump, 'utf8');
    expect(seen).toContain('PATH=');
    expect(seen).not.toMatch(/canary-(aws|twilio)-redis/);
  });

  it('waits for a BGSAVE that is already running, then takes its own', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const r = new Redis(redis.url);
    // Enough data that a save takes a moment.
    const pipe = r.pipeline();
    for (let i = 0; i < 50_000; i++) pipe.set(`k${i}`, 'v'.repeat(100));
    await pipe.exec();
    await r.bgsave();
    await r.set('written-after-the-first-save', 'yes');
    r.disconnect();
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    const b = await drctl(['--log-format', 'pretty', 'redis', 'backup', '--url', redis.url, '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    const m = JSON.parse((await drctl(['backups', 'show', 'latest', '--repo', repo])).stdout);
    expect(m.extra.keys).toBe(50_001);
  });

  it('works with a password, and never prints it', async () => {
    const redis = await startRedis({ password: 'redis-canary-pw-5521' });
    servers.push(redis);
    await seed(redis.url);
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    const b = await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    const wrong = await drctl(['redis', 'backup', '--url', redis.url.replace('redis-canary-pw-5521', 'nope-nope'), '--repo', repo]);
    expect(wrong.code).toBe(1);
    expect(wrong.all).toMatch(/refused the credentials/);
    expect(b.all + wrong.all).not.toContain('redis-canary-pw-5521');
  });

  it('reads the snapshot over the replication protocol when the RDB file is not on this machine', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const before = await seed(redis.url);
    const dir = tempDir();
    const repoDir = tempDir('drctl-redis-repo-');
    const rb = path.join(dir, 'remote.yaml');
    writeFileSync(rb, `apiVersion: drctl/v1\nname: remote-redis\nsteps:\n  - id: b\n    uses: redis.backup\n    with: { url: "${redis.url}", repo: "file://${repoDir}", source: replication }\n`);
    const r = await drctl(['run', rb]);
    expect(r.code, r.all).toBe(0);
    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();
    const restored = await drctl(['redis', 'restore', '--url', redis.url, '--repo', `file://${repoDir}`, '--start-command', redis.startCommand, '--yes']);
    expect(restored.code, restored.all).toBe(0);
    expect(await read(redis.url)).toEqual(before);
  });

  it('an unreachable server is one clear line', async () => {
    const r = await drctl(['--log-format', 'pretty', 'redis', 'backup', '--url', 'redis://127.0.0.1:1', '--repo', `file://${tempDir()}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('preflight failed: cannot connect to Redis at 127.0.0.1:1: connection refused');
  });
});
