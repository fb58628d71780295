import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  UploadPartCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { startFlakyProxy, startPartRaceProxy, startS3, type S3Server } from '../support/s3.js';

// drctl s3 restore against moto with versioning on: puts, overwrites and deletes before and
// after the target; the dry run and a declined confirmation change nothing; the restored
// content is byte-identical to what was current at the target; a re-run changes nothing.

const SECRET = 'aws-canary-secret-5521-xyz';
const TOKENS = ['sbp_canary_token_5521_xyz', 'rnd_canary_key_5521_xyz'] as const;

describe('s3 restore (versioned bucket, moto)', () => {
  let s3srv: S3Server;
  let s3: S3Client;
  let root: string;
  let target: string;
  const atTarget = new Map<string, Buffer>();
  const partsAtTarget = new Map<string, Buffer>();
  /** Versions above 1 MiB copied in 5 MiB ranges; the provider tokens set too, as canaries. */
  const PARTS = { DRCTL_S3_COPY_THRESHOLD: String(1024 * 1024), DRCTL_S3_COPY_PART_SIZE: String(5 * 1024 * 1024), SUPABASE_ACCESS_TOKEN: TOKENS[0], RENDER_API_KEY: TOKENS[1] };
  const noSecret = (out: string) => {
    for (const c of [SECRET, ...TOKENS]) expect(out).not.toContain(c);
  };
  const pendingUploads = async (Bucket: string) => (await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? [];
  const env = () => ({ ...s3srv.env, AWS_SECRET_ACCESS_KEY: SECRET });

  const put = (Bucket: string, Key: string, body: Buffer | string) => s3.send(new PutObjectCommand({ Bucket, Key, Body: body }));
  const putMultipart = async (Bucket: string, Key: string, parts: Buffer[]) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test', Metadata: { owner: 'uploads-team' } }));
    const done = [];
    for (const [i, Body] of parts.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      done.push({ ETag: r.ETag, PartNumber: i + 1 });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
  };
  const del = (Bucket: string, Key: string) => s3.send(new DeleteObjectCommand({ Bucket, Key }));
  const get = async (Bucket: string, Key: string): Promise<Buffer | undefined> => {
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket, Key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  };
  const versions = async (Bucket: string) => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    return [...(r.Versions ?? []).map((v) => `${v.Key} ${v.VersionId} ${v.IsLatest}`), ...(r.DeleteMarkers ?? []).map((d) => `${d.Key} ${d.VersionId} ${d.IsLatest} marker`)].sort();
  };

  beforeAll(async () => {
    root = tempDir('drctl-s3v-');
    s3srv = await startS3();
    s3 = new S3Client({ endpoint: s3srv.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing-secret-key' } });
    await s3srv.createBucket('vers');
    await s3srv.createBucket('plain');
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'vers', VersioningConfiguration: { Status: 'Enabled' } }));

    // Before the target.
    const blob = randomBytes(200_000);
    await put('vers', 'uploads/a.txt', 'a at target');
    await put('vers', 'uploads/b.bin', blob);
    await put('vers', 'uploads/d.txt', 'd deleted before the target');
    await del('vers', 'uploads/d.txt');
    await put('vers', 'uploads/e.txt', 'e never changes');
    await put('vers', 'uploads/f.txt', 'f first');
    await put('vers', 'uploads/f.txt', 'f at target');
    await put('vers', 'uploads/dir/g.txt', 'g at target');
    await put('vers', 'uploads/naïve name+plus&more.txt', 'odd key at target');
    atTarget.set('uploads/naïve name+plus&more.txt', Buffer.from('odd key at target'));
    // A multipart object: its ETag is not its content's MD5, so a copy's ETag differs.
    const big = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    await putMultipart('vers', 'uploads/big.bin', big);
    atTarget.set('uploads/big.bin', Buffer.concat(big));
    await put('vers', 'other/a.txt', 'other before');
    await put('vers', 'uploads2/x.txt', 'sibling before');
    // Copied in parts below (a lowered threshold stands in for CopyObject's 5 GiB limit).
    await s3srv.createBucket('parts');
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'parts', VersioningConfiguration: { Status: 'Enabled' } }));
    for (const [key, size] of [['big/eleven.bin', 11 * 1024 * 1024 + 7], ['big/six.bin', 6 * 1024 * 1024]] as const) {
      const body = randomBytes(size);
      await s3.send(new PutObjectCommand({ Bucket: 'parts', Key: key, Body: body, ContentType: 'application/x-big', Metadata: { owner: 'media' }, Tagging: 'team=media&keep=a b' }));
      partsAtTarget.set(key, body);
    }
    await put('parts', 'big/small.txt', 'small at target');
    for (const [k, v] of [['uploads/a.txt', 'a at target'], ['uploads/e.txt', 'e never changes'], ['uploads/f.txt', 'f at target'], ['uploads/dir/g.txt', 'g at target']] as const) atTarget.set(k, Buffer.from(v));
    atTarget.set('uploads/b.bin', blob);

    // S3 times versions to the second: the target sits after every write above, and every
    // write below lands at least one whole second after it.
    const t = Date.now();
    target = new Date(t).toISOString();
    await sleep(Math.floor(t / 1000) * 1000 + 2000 - Date.now() + 50);

    // After the target.
    await put('vers', 'uploads/a.txt', 'a overwritten');
    await put('vers', 'uploads/b.bin', randomBytes(1000));
    await del('vers', 'uploads/b.bin');
    await put('vers', 'uploads/c.txt', 'c created after');
    await put('vers', 'uploads/f.txt', 'f after');
    await put('vers', 'uploads/big.bin', 'big overwritten');
    await put('vers', 'uploads/naïve name+plus&more.txt', 'odd key overwritten');
    await del('vers', 'uploads/dir/g.txt');
    await put('vers', 'other/a.txt', 'other after');
    await put('vers', 'uploads2/x.txt', 'sibling after');
    for (const key of partsAtTarget.keys()) await put('parts', key, `${key} overwritten`);
    await put('parts', 'big/small.txt', 'small overwritten');
  });
  afterAll(async () => {
    s3?.destroy();
    await s3srv?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a bucket without versioning in one line', async () => {
    await put('plain', 'uploads/a.txt', 'x');
    const r = await drctl(['--log-format', 'pretty', 's3', 'restore', 's3://plain/uploads', '--to', target], { env: env() });
    expect(r.code, r.all).toBe(1);
    expect(r.all).toContain('versioning is not enabled');
    expect(r.all).not.toMatch(/\n\s+at /);
  });

  it('refuses a URL that is not s3:// and a time without a zone (exit 2)', async () => {
    const a = await drctl(['s3', 'restore', 'file:///tmp/x', '--to', target], { env: env() });
    expect(a.code, a.all).toBe(2);
    expect(a.stderr).toContain('expected s3://bucket/prefix');
    const b = await drctl(['s3', 'restore', 's3://vers/uploads', '--to', '2026-11-25 09:00:00'], { env: env() });
    expect(b.code, b.all).toBe(2);
    expect(b.stderr).toContain('has no time zone');
  });

  it('dry run lists the changes and changes nothing; a declined confirmation neither', async () => {
    const before = await versions('vers');
    const report = path.join(root, 'dry.json');
    const r = await drctl(['--report', report, 's3', 'restore', 's3://vers/uploads', '--to', target], { env: env() });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('dry run:');
    expect(r.stdout).toMatch(/would: overwrite 4, undelete 2, delete-mark 0 .*newer kept 1, unchanged 2/);
    expect(r.stdout).toContain('overwrite    uploads/a.txt');
    expect(r.stdout).toContain('undelete     uploads/b.bin');
    expect(r.stdout).toContain('keep-newer   uploads/c.txt');
    expect(r.stdout).not.toContain('uploads2/');
    expect(await versions('vers')).toEqual(before);

    const json = await drctl(['s3', 'restore', 's3://vers/uploads', '--to', target, '--json', '--show', '1'], { env: env() });
    expect(json.code, json.all).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; restore: { applied: boolean; overwrite: number; changes: unknown[] } };
    expect(doc.ok).toBe(true);
    expect(doc.restore).toMatchObject({ applied: false, overwrite: 4 });
    expect(doc.restore.changes).toHaveLength(1);
    const noTty = await drctl(['s3', 'restore', 's3://vers/uploads', '--to', target, '--confirm'], { env: env() });
    expect(noTty.code, noTty.all).toBe(4);
    expect(await versions('vers')).toEqual(before);
    for (const out of [r.all, noTty.all, readFileSync(report, 'utf8')]) expect(out).not.toContain(SECRET);
  });

  it('restores byte-identical content, brings deleted objects back, keeps newer ones; a re-run changes nothing', async () => {
    const report = path.join(root, 'restore.md');
    const r = await drctl(['--report', report, 's3', 'restore', 's3://vers/uploads/', '--to', target, '--confirm', '--yes'], { env: env() });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/^restored s3:\/\/vers\/uploads\//);
    for (const [key, body] of atTarget) expect((await get('vers', key))?.equals(body), key).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'vers', Key: 'uploads/big.bin' }));
    expect(head.ContentType).toBe('application/x-test');
    expect(head.Metadata?.owner).toBe('uploads-team');
    expect(await get('vers', 'uploads/d.txt')).toBeUndefined();
    expect((await get('vers', 'uploads/c.txt'))?.toString()).toBe('c created after');
    expect((await get('vers', 'other/a.txt'))?.toString()).toBe('other after');
    expect((await get('vers', 'uploads2/x.txt'))?.toString()).toBe('sibling after');
    expect(readFileSync(report, 'utf8')).not.toContain(SECRET);
    expect(r.all).not.toContain(SECRET);

    const after = await versions('vers');
    const again = await drctl(['s3', 'restore', 's3://vers/uploads', '--to', target, '--confirm', '--yes'], { env: env() });
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toContain('nothing to change');
    expect(await versions('vers')).toEqual(after);
  });

  it('--delete-newer hides objects created after the time behind a delete marker', async () => {
    const r = await drctl(['s3', 'restore', 's3://vers/uploads', '--to', target, '--delete-newer', '--confirm', '--yes'], { env: env() });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/delete-mark 1/);
    expect(await get('vers', 'uploads/c.txt')).toBeUndefined();
    // The data stays: the newer object's version is still in the bucket.
    expect((await versions('vers')).some((v) => v.startsWith('uploads/c.txt ') && v.endsWith('false'))).toBe(true);
    for (const [key, body] of atTarget) expect((await get('vers', key))?.equals(body), key).toBe(true);
  });

  it('s3.versioning.check reports versioning and fails on a lifecycle rule shorter than promised', async () => {
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'vers',
        LifecycleConfiguration: { Rules: [{ ID: 'old-versions', Status: 'Enabled', Filter: { Prefix: 'uploads/' }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } }] },
      }),
    );
    const file = path.join(root, 'check.yaml');
    const rb = (min: number) =>
      `apiVersion: drctl/v1\nname: s3-check\nsteps:\n  - id: check\n    uses: s3.versioning.check\n    with: { url: "s3://vers/uploads", minNoncurrentDays: ${min} }\n`;
    writeFileSync(file, rb(30));
    const bad = await drctl(['--log-format', 'pretty', 'run', file], { env: env() });
    expect(bad.code, bad.all).toBe(1);
    expect(bad.all).toContain('expires old versions after 7 day(s), fewer than the 30 required');
    writeFileSync(file, rb(7));
    const report = path.join(root, 'check.json');
    const ok = await drctl(['--report', report, 'run', file], { env: env() });
    expect(ok.code, ok.all).toBe(0);
    const step = JSON.parse(readFileSync(report, 'utf8')).steps[0];
    expect(step.outputs.versioning).toBe('Enabled');
    expect(step.outputs.noncurrentDays).toBe(7);
  });

  it('a failed copy in parts is aborted: no incomplete multipart upload stays, nothing changes', async () => {
    const before = await versions('parts');
    // Every PUT (each UploadPartCopy) fails; starting and aborting the upload get through.
    const proxy = await startFlakyProxy(s3srv.endpoint, 1);
    try {
      const r = await drctl(['s3', 'restore', 's3://parts/big', '--to', target, '--confirm', '--yes'], {
        env: { ...env(), ...PARTS, AWS_ENDPOINT_URL_S3: proxy.endpoint, DRCTL_S3_MAX_ATTEMPTS: '1' },
      });
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('object(s) not restored');
      noSecret(r.all);
      expect(proxy.failed.status503 + proxy.failed.dropped).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
    expect(await pendingUploads('parts')).toEqual([]);
    expect(await versions('parts')).toEqual(before);
  });

  it('a part copy that fails while others are copying: the abort waits for them and is repeated until the upload is gone', async () => {
    const before = await versions('parts');
    // Part 1 of each upload fails while part 2 is still being copied; the first abort of each
    // upload leaves it listed, as S3 may when a part lands during the abort.
    const proxy = await startPartRaceProxy(s3srv.endpoint);
    try {
      const r = await drctl(['s3', 'restore', 's3://parts/big', '--to', target, '--confirm', '--yes'], {
        env: { ...env(), ...PARTS, AWS_ENDPOINT_URL_S3: proxy.endpoint, DRCTL_S3_MAX_ATTEMPTS: '1' },
      });
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('2 of 3 object(s) not restored');
      expect(r.all).not.toContain('could not abort');
      noSecret(r.all);
      expect(proxy.failedUploads.size).toBe(2);
      // No abort went out while a part of its upload was still being copied; each was sent again
      // after ListParts still showed the upload.
      expect(proxy.abortsWhileCopying).toEqual([0, 0, 0, 0]);
    } finally {
      await proxy.stop();
    }
    expect(await pendingUploads('parts')).toEqual([]);
    // The small object was copied whole (CopyObject): restored. The large ones are unchanged.
    const large = (v: string[]) => v.filter((x) => !x.startsWith('big/small.txt '));
    expect(large(await versions('parts'))).toEqual(large(before));
    expect((await get('parts', 'big/small.txt'))?.toString()).toBe('small at target');
  });

  it('copies versions above the threshold in parts from the versioned source: same bytes and metadata, no upload left, re-run changes nothing', async () => {
    const report = path.join(root, 'parts.json');
    const r = await drctl(['--report', report, 's3', 'restore', 's3://parts/big', '--to', target, '--confirm', '--yes'], { env: { ...env(), ...PARTS } });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/^restored s3:\/\/parts\/big\//);
    for (const [key, body] of partsAtTarget) {
      expect((await get('parts', key))?.equals(body), key).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'parts', Key: key }));
      // A multipart ETag ("...-<parts>"): the copy went through UploadPartCopy, 5 MiB at a time.
      expect(head.ETag, key).toMatch(key === 'big/eleven.bin' ? /-3"$/ : /-2"$/);
      expect(head.ContentType).toBe('application/x-big');
      expect(head.Metadata?.owner).toBe('media');
      expect(head.Metadata?.['drctl-restored-from']).toMatch(/\S/);
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: 'parts', Key: key }));
      expect(Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]))).toEqual({ team: 'media', keep: 'a b' });
    }
    expect((await get('parts', 'big/small.txt'))?.toString()).toBe('small at target');
    expect(await pendingUploads('parts')).toEqual([]);
    for (const out of [r.all, readFileSync(report, 'utf8')]) noSecret(out);

    const after = await versions('parts');
    const again = await drctl(['s3', 'restore', 's3://parts/big', '--to', target, '--confirm', '--yes'], { env: { ...env(), ...PARTS } });
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toContain('nothing to change');
    noSecret(again.all);
    expect(await versions('parts')).toEqual(after);
  });

  it('refuses a copy part size below the 5 MiB S3 allows (exit 2, one line)', async () => {
    const r = await drctl(['s3', 'restore', 's3://parts/big', '--to', target], { env: { ...env(), DRCTL_S3_COPY_PART_SIZE: '1000' } });
    expect(r.code, r.all).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('DRCTL_S3_COPY_PART_SIZE=1000');
  });
});
