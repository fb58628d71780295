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
