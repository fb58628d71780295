import { openSync, readFileSync, readdirSync, writeFileSync, closeSync, writeSync, statSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { contentHashes, schemaDump } from '../support/compare.js';
import { destroyPostgres, psqlFile, startPostgres, type PgServer } from '../support/postgres.js';

const RICH = path.resolve(import.meta.dirname, '..', 'fixtures', 'rich-schema.sql');

describe('logical backup and restore through a file:// repository', () => {
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  let backupId: string;

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await psqlFile(pg, RICH, 'app');
    repoDir = tempDir('drctl-repo-');
    repo = `file://${repoDir}`;
  });
  afterAll(async () => destroyPostgres(pg));

  it('backs up, lists, and restores into a new database with identical schema and data', async () => {
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--label', 'round trip']);
    expect(b.code, b.stderr).toBe(0);
    backupId = b.stdout.trim();
    expect(backupId).toMatch(/^\d{8}T\d{6}Z-logical$/);

    const list = JSON.parse((await drctl(['backups', 'list', '--json', '--repo', repo])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: backupId, kind: 'logical', label: 'round trip', database: 'app', objects: 2 });

    const manifest = JSON.parse((await drctl(['backups', 'show', backupId, '--repo', repo])).stdout);
    expect(manifest.objects[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.stats.tables).toContainEqual({ schema: 'public', name: 'leads', rows: 3000 });
    expect(manifest.stats.functions).toContain('public.lead_count(t integer)');
    expect(manifest.stats.policies).toEqual(['public.leads:no_delete', 'public.leads:tenant_isolation']);
    expect(manifest.source.systemIdentifier).toMatch(/^\d+$/);

    const r = await drctl(['restore', '--backup', backupId, '--target', pg.url('restored'), '--repo', repo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/leads\s+3000/);
    expect(r.stdout).toMatch(/billing\.invoices\s+500/);

    expect(await schemaDump(pg, 'restored')).toBe(await schemaDump(pg, 'app'));
    expect(await contentHashes(pg, 'restored')).toEqual(await contentHashes(pg, 'app'));
    expect(await pg.sql("select last_value from billing.invoice_numbers", 'restored')).toBe('424242');
  });

  it('asks before replacing a non-empty database: exit 4 without a TTY, replaces with --yes', async () => {
    await pg.sql('create database busy');
    await pg.sql('create table keepme (x int); insert into keepme values (1)', 'busy');
    const no = await drctl(['restore', '--target', pg.url('busy'), '--repo', repo]);
    expect(no.code).toBe(4);
    expect(no.all).toContain('is not empty');
    expect(await pg.sql('select count(*) from keepme', 'busy')).toBe('1');
    const yes = await drctl(['restore', '--target', pg.url('busy'), '--repo', repo, '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    expect(await pg.sql('select count(*) from leads', 'busy')).toBe('3000');
  });

  it('restores one table with parallel jobs', async () => {
    const r = await drctl(['restore', '--target', pg.url('partial'), '--repo', repo, '--jobs', '2', '--table', 'tenants']);
    expect(r.code, r.stderr).toBe(0);
    expect(await pg.sql("select count(*) from tenants", 'partial')).toBe('20');
    expect(await pg.sql("select count(*) from pg_tables where tablename = 'leads'", 'partial')).toBe('0');
  });

  it('refuses a backup with one flipped byte or a truncated object, naming backup and object, and leaves no half-restored database', async () => {
    // Uncompressed, so the flipped byte and the cut reach the checksum and size checks
    // themselves (a compressed object is covered in repository-format.test.ts).
    const copy = tempDir('drctl-repo-bad-');
    const plain = await drctl(['backup', '--source', pg.url('app'), '--repo', `file://${copy}`, '--compress', 'none']);
    expect(plain.code, plain.stderr).toBe(0);
    const backupId = plain.stdout.trim();
    const obj = path.join(copy, 'backups', backupId, 'data', 'dump.pgc');
    const size = statSync(obj).size;
    const fd = openSync(obj, 'r+');
    const pos = Math.floor(size * 0.8);
    const b = Buffer.alloc(1);
    const { readSync } = await import('node:fs');
    readSync(fd, b, 0, 1, pos);
    writeSync(fd, Buffer.from([b[0]! ^ 0x01]), 0, 1, pos);
    closeSync(fd);
    const flipped = await drctl(['restore', '--target', pg.url('flipped'), '--repo', `file://${copy}`]);
    expect(flipped.code).toBe(1);
    expect(flipped.all).toContain(`backup ${backupId}: object data/dump.pgc: sha256 mismatch`);
    expect(await pg.sql("select count(*) from pg_database where datname = 'flipped'")).toBe('0');

    const fd2 = openSync(obj, 'r+');
    ftruncateSync(fd2, Math.floor(size / 2));
    closeSync(fd2);
    const truncated = await drctl(['restore', '--target', pg.url('truncated'), '--repo', `file://${copy}`]);
    expect(truncated.code).toBe(1);
    expect(truncated.all).toMatch(new RegExp(`backup ${backupId}: object data/dump.pgc: \\d+ bytes, the manifest records ${size} \\(truncated\\)`));
  });

  it('a restore of one table or schema checks the whole object before pg_restore reads it', async () => {
    // pg_restore with --table or --schema stops reading once it has what it needs and commits:
    // damage inside that table, with more data after it, would be committed before the
    // checksum at the end is known. Uncompressed, so the damage stays valid COPY text.
    await pg.sql('create database filt');
    await pg.sql("create table a (id int, v text); insert into a select i, 'row-' || lpad(i::text, 4, '0') || '-marker' from generate_series(1, 1000) i", 'filt');
    await pg.sql("create table zz (x text); insert into zz select repeat(md5(i::text), 4) from generate_series(1, 30000) i", 'filt');
    const copy = tempDir('drctl-repo-filter-');
    const b = await drctl(['backup', '--source', pg.url('filt'), '--repo', `file://${copy}`, '--compress', 'none']);
    expect(b.code, b.all).toBe(0);
    const obj = path.join(copy, 'backups', b.stdout.trim(), 'data', 'dump.pgc');
    const data = readFileSync(obj);
    const at = data.indexOf('row-0500-marker');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(data.length / 4);
    data.write('row-0900-marker', at);
    writeFileSync(obj, data);
    await pg.sql('create database filt_existing');
    for (const only of [['--table', 'a'], ['--schema', 'public']]) {
      const r = await drctl(['restore', '--target', pg.url('filt_existing'), '--repo', `file://${copy}`, ...only]);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('object data/dump.pgc: sha256 mismatch');
      expect(await pg.sql("select count(*) from pg_tables where schemaname = 'public'", 'filt_existing')).toBe('0');
    }
  });

  it('an edited manifest is not trusted', async () => {
    const copy = tempDir('drctl-repo-edit-');
    const { cpSync } = await import('node:fs');
    cpSync(repoDir, copy, { recursive: true });
    const mf = path.join(copy, 'backups', backupId, 'manifest.json');
    writeFileSync(mf, readFileSync(mf, 'utf8').replace('"round trip"', '"edited"'));
    const list = await drctl(['backups', 'list', '--repo', `file://${copy}`]);
    expect(list.stdout).toContain('no backups');
    expect(list.stderr).toContain('manifest checksum mismatch');
    const r = await drctl(['restore', '--backup', backupId, '--target', pg.url('edited'), '--repo', `file://${copy}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`backup ${backupId}: manifest checksum mismatch`);
  });

  it('bad input: unreachable source, wrong password, bad repo URL, unknown backup id: one line, right exit code, no password', async () => {
    const pw = 'Wr0ng-canary-pw-91';
    const cases: [string[], number, RegExp][] = [
      [['backup', '--source', `postgres://postgres:${pw}@127.0.0.1:1/app`, '--repo', repo], 1, /cannot connect to PostgreSQL at 127\.0\.0\.1:1: connection refused/],
      [['backup', '--source', `postgres://postgres:${pw}@127.0.0.1:${pg.port}/app`, '--repo', repo], 1, /password authentication failed/],
      [['backup', '--source', pg.url('app'), '--repo', 'ftp://host/x'], 2, /--repo ftp:\/\/…: unsupported scheme/],
      [['restore', '--backup', '20200101T000000Z-logical', '--target', pg.url('x'), '--repo', repo], 2, /--backup 20200101T000000Z-logical: no such backup/],
      [['restore', '--target', pg.url('x'), '--repo', `file://${tempDir()}`], 1, /not a drctl repository/],
      [['restore', '--repo', repo], 2, /restore needs --target/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await drctl(['--log-format', 'json', ...args]);
      expect(r.code, `${args.join(' ')}\n${r.all}`).toBe(code);
      expect(r.all).toMatch(msg);
      expect(r.all).not.toContain(pw);
      expect(r.all).not.toContain(pg.password);
      expect(r.all).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it('survives kill -9 at any point: the backup is never listed, the next one works, expire removes the debris', async () => {
    const crashRepoDir = tempDir('drctl-repo-crash-');
    const crashRepo = `file://${crashRepoDir}`;
    await pg.sql('create database big');
    await pg.sql('create extension pgcrypto', 'big');
    await pg.sql("create table blobs (id int, b bytea); insert into blobs select g, gen_random_bytes(1024) from generate_series(1, 6000) g", 'big');
    for (const point of ['backup-during-upload', 'backup-before-manifest']) {
      const r = await drctl(['backup', '--source', pg.url('big'), '--repo', crashRepo], { env: { DRCTL_FAULT: point } });
      expect(r.signal, point).toBe('SIGKILL');
      const list = JSON.parse((await drctl(['backups', 'list', '--json', '--repo', crashRepo])).stdout);
      expect(list, point).toEqual([]);
      // The dead process's lock stays behind; the next backup takes it over at once.
      const { existsSync } = await import('node:fs');
      expect(existsSync(path.join(crashRepoDir, 'locks', 'repo.lock')), point).toBe(true);
    }
    const ok = await drctl(['backup', '--source', pg.url('big'), '--repo', crashRepo]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('took over a stale repository lock');
    const debris = readdirSync(path.join(crashRepoDir, 'backups'));
    expect(debris.length).toBeGreaterThan(1);
    const dry = await drctl(['backups', 'expire', '--repo', crashRepo, '--orphan-grace', '0s']);
    expect(dry.stdout).toContain('would remove incomplete');
    expect(readdirSync(path.join(crashRepoDir, 'backups')).length).toBe(debris.length);
    const wet = await drctl(['backups', 'expire', '--repo', crashRepo, '--orphan-grace', '0s', '--confirm']);
    expect(wet.code).toBe(0);
    expect(readdirSync(path.join(crashRepoDir, 'backups')), `${dry.stdout}\n${wet.all}`).toEqual([ok.stdout.trim()]);
    const restored = await drctl(['restore', '--target', pg.url('big_restored'), '--repo', crashRepo]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await pg.sql('select count(*) from blobs', 'big_restored')).toBe('6000');
  });

  it('a lock left by a process that died is taken over once it has expired', async () => {
    const dir = tempDir('drctl-repo-lock-');
    const r = `file://${dir}`;
    expect((await drctl(['backup', '--source', pg.url('app'), '--repo', r])).code).toBe(0);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'locks'), { recursive: true });
    const stale = { owner: 'gone-host:4242', purpose: 'backup', acquiredAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T06:00:00.000Z' };
    writeFileSync(path.join(dir, 'locks', 'repo.lock'), JSON.stringify(stale));
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', r]);
    expect(b.code, b.all).toBe(0);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(dir, 'locks', 'repo.lock'))).toBe(false);
  });

  it('expire keeps the newest N and only deletes with --confirm', async () => {
    const dir = tempDir('drctl-repo-ret-');
    const r = `file://${dir}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', r]);
      expect(b.code).toBe(0);
      ids.push(b.stdout.trim());
    }
    // Backups in the same second get distinct ids (-2, -3) and sort by their stop time.
    expect(new Set(ids).size).toBe(3);
    const dry = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', r]);
    expect(dry.stdout).toContain(`would remove ${ids[0]}`);
    expect(JSON.parse((await drctl(['backups', 'list', '--json', '--repo', r])).stdout)).toHaveLength(3);
    await drctl(['backups', 'expire', '--keep-last', '1', '--repo', r, '--confirm']);
    expect(JSON.parse((await drctl(['backups', 'list', '--json', '--repo', r])).stdout).map((b: { id: string }) => b.id)).toEqual([ids[2]]);
  });
});

describe('encrypted repository', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await psqlFile(pg, RICH, 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  it('round-trips with the key, stores no plaintext, and refuses a wrong or missing key in one line', async () => {
    const dir = tempDir('drctl-repo-enc-');
    const repo = `file://${dir}`;
    const key = 'correct horse battery staple canary';
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: { DRCTL_ENCRYPTION_KEY: key } });
    expect(b.code, b.stderr).toBe(0);
    const id = b.stdout.trim();
    const stored = readFileSync(path.join(dir, 'backups', id, 'data', 'dump.pgc'));
    expect(stored.subarray(0, 5).toString()).not.toBe('PGDMP');
    expect(stored.includes(Buffer.from('tenant-1'))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(dir, 'drctl-repo.json'), 'utf8')).encryption.kdf).toBe('scrypt');

    const r = await drctl(['restore', '--target', pg.url('dec'), '--repo', repo], { env: { DRCTL_ENCRYPTION_KEY: key } });
    expect(r.code, r.stderr).toBe(0);
    expect(await contentHashes(pg, 'dec')).toEqual(await contentHashes(pg, 'app'));

    const wrong = await drctl(['--log-format', 'pretty', 'restore', '--target', pg.url('dec2'), '--repo', repo], { env: { DRCTL_ENCRYPTION_KEY: 'not the key' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`  restore failed: wrong encryption key for ${repo}\n`);
    const listWrong = await drctl(['backups', 'list', '--repo', repo], { env: { DRCTL_ENCRYPTION_KEY: 'not the key' } });
    expect(listWrong.code).toBe(1);
    expect(listWrong.stderr).toBe(`drctl: wrong encryption key for ${repo}\n`);
    const none = await drctl(['backups', 'list', '--repo', repo]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('is encrypted: set DRCTL_ENCRYPTION_KEY');
    expect(wrong.all + none.all).not.toContain(key);

    // Tampering with ciphertext is caught by GCM before the checksum even runs.
    const obj = path.join(dir, 'backups', id, 'data', 'dump.pgc');
    const buf = readFileSync(obj);
    buf[Math.floor(buf.length / 2)] ^= 0x80;
    writeFileSync(obj, buf);
    const bad = await drctl(['restore', '--target', pg.url('dec3'), '--repo', repo], { env: { DRCTL_ENCRYPTION_KEY: key } });
    expect(bad.code).toBe(1);
    expect(bad.all).toContain(`backup ${id}: object data/dump.pgc: frame 0 failed authentication`);
  });
});
