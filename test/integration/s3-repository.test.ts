import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl } from '../support/cli.js';
import { contentHashes, schemaDump } from '../support/compare.js';
import { destroyPostgres, psqlFile, startPostgres, type PgServer } from '../support/postgres.js';
import { startFlakyProxy, startS3, type S3Server } from '../support/s3.js';

const RICH = path.resolve(import.meta.dirname, '..', 'fixtures', 'rich-schema.sql');

describe('S3 repository (moto server on loopback)', () => {
  let pg: PgServer;
  let s3: S3Server;

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPostgres(), startS3()]);
    await pg.sql('create database app');
    await psqlFile(pg, RICH, 'app');
    // Incompressible rows so the dump spans several 5 MB multipart parts.
    await pg.sql('create extension if not exists pgcrypto', 'app');
    await pg.sql('create table public.blobs (id int primary key, b bytea); insert into public.blobs select g, gen_random_bytes(1024) from generate_series(1, 14000) g', 'app');
    await s3.createBucket('drctl-test');
  });
  afterAll(async () => {
    await destroyPostgres(pg);
    await s3?.stop();
  });

  for (const checksums of ['when_required', 'when_supported']) {
    it(`round-trips a multipart backup with checksums ${checksums}`, async () => {
      const repo = `s3://drctl-test/${checksums}/prod`;
      const env = { ...s3.env, DRCTL_S3_PART_MB: '5', DRCTL_S3_CHECKSUMS: checksums };
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env });
      expect(b.code, b.all).toBe(0);
      const id = b.stdout.trim();
      const manifest = JSON.parse((await drctl(['backups', 'show', id, '--repo', repo], { env })).stdout);
      expect(manifest.objects[0].size).toBeGreaterThan(10 * 1024 * 1024);
      const db = `from_s3_${checksums}`;
      const r = await drctl(['restore', '--target', pg.url(db), '--repo', repo], { env });
      expect(r.code, r.all).toBe(0);
      expect(await schemaDump(pg, db)).toBe(await schemaDump(pg, 'app'));
      expect(await contentHashes(pg, db)).toEqual(await contentHashes(pg, 'app'));
    });
  }

  it('completes a backup while the store answers 503 and drops connections', async () => {
    const proxy = await startFlakyProxy(s3.endpoint, 3);
    try {
      const repo = 's3://drctl-test/flaky';
      const env = { ...s3.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, DRCTL_S3_PART_MB: '5' };
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env });
      expect(b.code, b.all).toBe(0);
      expect(proxy.failed.status503 + proxy.failed.dropped).toBeGreaterThan(1);
      const r = await drctl(['restore', '--target', pg.url('from_flaky'), '--repo', repo], { env });
      expect(r.code, r.all).toBe(0);
      expect(await contentHashes(pg, 'from_flaky')).toEqual(await contentHashes(pg, 'app'));
    } finally {
      await proxy.stop();
    }
  });

  it('wal-push of a new segment costs three requests (repository file, a listing of its name, one conditional PUT), and it reads back whole', async () => {
    const proxy = await startFlakyProxy(s3.endpoint, Infinity);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-s3-wal-'));
    try {
      const repo = 's3://drctl-test/wal-requests';
      const env = { ...s3.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, DRCTL_WAL_AHEAD: '0' };
      const segment = (name: string) => {
        const file = path.join(dir, name);
        writeFileSync(file, Buffer.concat([randomBytes(4096), Buffer.alloc(16 * 1024 * 1024 - 4096, 7)]));
        return file;
      };
      expect((await drctl(['wal-push', '--repo', repo, segment('000000010000000000000001')], { env })).code).toBe(0);
      proxy.requests.length = 0;
      const second = segment('000000010000000000000002');
      const push = await drctl(['wal-push', '--repo', repo, second], { env });
      expect(push.code, push.all).toBe(0);
      expect(proxy.requests.map((r) => r.split(' ')[0])).toEqual(['GET', 'GET', 'PUT']);
      expect(proxy.requests[1]).toMatch(/list-type=2&prefix=wal-requests%2Fwal%2F00000001%2F000000010000000000000002-|list-type=2&prefix=wal-requests\/wal\/00000001\/000000010000000000000002-/);
      // Pushed again (archive_command retried after a crash): read back and matched, not stored twice.
      const again = await drctl(['wal-push', '--repo', repo, second], { env });
      expect(again.code, again.all).toBe(0);
      expect(proxy.requests.filter((r) => r.startsWith('PUT'))).toHaveLength(1);
      const fetched = path.join(dir, 'fetched');
      expect((await drctl(['wal-fetch', '--repo', repo, '000000010000000000000002', fetched], { env })).code).toBe(0);
      expect(readFileSync(fetched).equals(readFileSync(second))).toBe(true);
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a store that accepts connections and never answers fails the command in bounded time, in one line, instead of holding it (and archive_command) for ever', async () => {
    const silent = net.createServer((socket) => socket.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-s3-silent-'));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const env = { ...s3.env, AWS_ENDPOINT_URL_S3: endpoint, DRCTL_S3_IDLE_TIMEOUT: '1', DRCTL_S3_MAX_ATTEMPTS: '2' };
      const segment = path.join(dir, '000000010000000000000001');
      writeFileSync(segment, Buffer.alloc(16 * 1024 * 1024, 1));
      for (const args of [['backups', 'list'], ['wal-push', segment]]) {
        const r = await drctl([...args, '--repo', 's3://drctl-test/silent'], { env, timeoutMs: 60_000 });
        expect(r.signal, args[0]).toBeNull();
        expect(r.code, r.all).toBe(1);
        expect(r.stderr.trim().split('\n')).toEqual([`drctl: s3://drctl-test/silent: reading drctl-repo.json: ${endpoint} stopped answering: 1s without a byte (DRCTL_S3_IDLE_TIMEOUT; 2 attempt(s), DRCTL_S3_MAX_ATTEMPTS)`]);
      }
      const bad = await drctl(['backups', 'list', '--repo', 's3://drctl-test/silent'], { env: { ...env, DRCTL_S3_IDLE_TIMEOUT: 'soon' } });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe('drctl: DRCTL_S3_IDLE_TIMEOUT=soon: a whole number of seconds, 1 or more\n');
      // Empty, as a copied .env.example leaves them: the defaults.
      const empty = await drctl(['backups', 'list', '--repo', 's3://drctl-test/silent'], { env: { ...s3.env, DRCTL_S3_IDLE_TIMEOUT: '', DRCTL_S3_MAX_ATTEMPTS: '', DRCTL_S3_PART_MB: '', DRCTL_S3_CONNECT_TIMEOUT: '' } });
      expect(empty.stderr).toContain('not a drctl repository');
    } finally {
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing bucket and an unreachable endpoint in one line, without the secret key', async () => {
    const missing = await drctl(['backups', 'list', '--repo', 's3://no-such-bucket/x'], { env: s3.env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^drctl: s3:\/\/no-such-bucket\/x: .*bucket no-such-bucket does not exist\n$/);
    const down = await drctl(['backups', 'list', '--repo', 's3://drctl-test/x'], { env: { ...s3.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', DRCTL_S3_MAX_ATTEMPTS: '1' } });
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.all + down.all).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY);
  });
});
