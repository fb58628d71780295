import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { drctl, tempDir } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { freePort } from '../support/postgres.js';
import { killAndWait, waitForPort } from '../support/ports.js';

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

  it('a frozen server (SIGSTOP) fails backup and restore in bounded time, one line each', async () => {
    const redis = await startRedis();
    servers.push(redis);
    await seed(redis.url);
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    expect((await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo])).code).toBe(0);
    process.kill(redis.pid, 'SIGSTOP');
    try {
      let t0 = Date.now();
      const b = await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo], { timeoutMs: 60_000 });
      expect(b.signal, 'backup hung').toBeNull();
      expect(b.code, b.all).toBe(1);
      expect(Date.now() - t0).toBeLessThan(40_000);
      expect(b.stderr).toMatch(/did not answer within \d+s/);
      t0 = Date.now();
      const r = await drctl(['redis', 'restore', '--url', redis.url, '--repo', repo, '--start-command', 'true', '--yes'], { timeoutMs: 60_000 });
      expect(r.signal, 'restore hung').toBeNull();
      expect(r.code, r.all).toBe(1);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(r.stderr).toMatch(/restore failed: Redis at 127\.0\.0\.1:\d+ did not answer within \d+s/);
      expect(readdirSync(redis.dir).filter((f) => f.includes('drctl-restore'))).toEqual([]);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
  }, 150_000);

  it('restores a backup whose keys with a TTL expired since: the expired keys are not a failure', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const c = new Redis(redis.url);
    await c.set('keep', '1');
    await c.set('short:1', 'x', 'EX', 4);
    await c.set('short:2', 'y', 'EX', 4);
    c.disconnect();
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    const b = await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    await new Promise((r) => setTimeout(r, 5000));
    const r = await drctl(['redis', 'restore', '--url', redis.url, '--repo', repo, '--start-command', redis.startCommand, '--yes']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/: 1 keys\n$/);
    expect(r.all).toMatch(/2 keys? .*expired/);
  });

  it('a failed stop leaves no temporary snapshot on the Redis disk', async () => {
    const redis = await startRedis();
    servers.push(redis);
    await seed(redis.url);
    const repo = `file://${tempDir('drctl-redis-repo-')}`;
    expect((await drctl(['redis', 'backup', '--url', redis.url, '--repo', repo])).code).toBe(0);
    const r = await drctl(['redis', 'restore', '--url', redis.url, '--repo', repo, '--start-command', 'true', '--stop-command', 'exit 3', '--yes']);
    expect(r.code, r.all).toBe(1);
    expect(r.stderr).toMatch(/stop command exited with 3/);
    expect(readdirSync(redis.dir).filter((f) => f.includes('drctl-restore'))).toEqual([]);
  });

  // A Redis whose data directory is not this host's (a container, another machine) whose path
  // also exists here with an old dump.rdb: a private mount namespace gives the server a tmpfs
  // at that path that only it sees.
  it.runIf(process.getuid?.() === 0)('refuses to back up or restore a server whose data directory is not this host\'s', async () => {
    const old = await startRedis();
    servers.push(old);
    const oc = new Redis(old.url);
    await oc.set('stale', '1');
    await oc.save();
    oc.disconnect();
    const dir = tempDir('drctl-redis-remote-');
    copyFileSync(path.join(old.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
    utimesSync(path.join(dir, 'dump.rdb'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const port = await freePort();
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs '${dir}' && exec redis-server --port ${port} --bind 127.0.0.1 --dir '${dir}' --save '' --appendonly no`], { stdio: 'ignore' });
    servers.push({ stop: () => killAndWait(child, 'SIGKILL') } as RedisServer);
    await waitForPort(port, { what: 'redis-server', child });
    const url = `redis://127.0.0.1:${port}`;
    const c = new Redis(url);
    for (let i = 0; i < 5; i++) await c.set(`k${i}`, String(i));
    c.disconnect();

    const repoDir = tempDir('drctl-redis-repo-');
    const b = await drctl(['redis', 'backup', '--url', url, '--repo', `file://${repoDir}`]);
    expect(b.code, b.all).toBe(1);
    expect(b.stderr).toMatch(/not this host's.*source: replication/);
    const list = await drctl(['backups', 'list', '--repo', `file://${repoDir}`, '--json']);
    expect(list.stdout).not.toMatch(/-redis/);

    // A good backup (of the other server) to restore: refused before the server is stopped.
    expect((await drctl(['redis', 'backup', '--url', old.url, '--repo', `file://${repoDir}`])).code).toBe(0);
    const r = await drctl(['redis', 'restore', '--url', url, '--repo', `file://${repoDir}`, '--start-command', 'true', '--yes']);
    expect(r.code, r.all).not.toBe(0);
    expect(r.stderr).toMatch(/not this host's/);
    const after = new Redis(url);
    expect(await after.dbsize()).toBe(5);
    after.disconnect();
    expect(existsSync(path.join(dir, 'dump.rdb.drctl-restore'))).toBe(false);
  });
});
