import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl as run, type CliOptions } from '../support/cli.js';
import { contentHashes } from '../support/compare.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';
import { startS3, type S3Server } from '../support/s3.js';

// Repository format 2: key hierarchy, encrypted manifests, keyed WAL names, the repository
// file's copy, compression per object, and format-1 repositories still restored.

const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'format1');
const KEY = 'format two passphrase canary-key-51';
const CANARY = 'CANARY-ROW-VALUE-8c1e';
const TABLE = 'ledger_canary_tbl';

let root: string;
let pg: PgServer;

function dir(prefix: string): string {
  return mkdtempSync(path.join(root, prefix));
}

function drctl(args: string[], o: CliOptions = {}) {
  const env = { DRCTL_ENCRYPTION_KEY: undefined, DRCTL_ENCRYPTION_KEY_FILE: undefined, DRCTL_STATE_DIR: path.join(root, 'state'), ...o.env };
  return run(args, { cwd: root, ...o, env });
}

const withKey = (key = KEY) => ({ env: { DRCTL_ENCRYPTION_KEY: key } });

/** Every stored file under a directory, as [relative path, bytes]. */
function files(d: string, base = d): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) out.push(...files(p, base));
    else out.push([path.relative(base, p), readFileSync(p)]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : 1));
}

function walSegment(d: string, name: string, bytes = 256 * 1024): string {
  const p = path.join(d, name);
  // Compressible but not trivial, like a real segment.
  const chunk = randomBytes(4096);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes / 4096; i++) parts.push(i % 3 === 0 ? randomBytes(4096) : chunk);
  writeFileSync(p, Buffer.concat(parts));
  return p;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'drctl-fmt2-'));
  mkdirSync(path.join(root, 'state'));
  pg = await startPostgres();
  await pg.sql('create database app');
  await pg.sql(`create table ${TABLE} (id int primary key, note text); insert into ${TABLE} select g, 'row ' || g from generate_series(1, 2000) g; insert into ${TABLE} values (99999, '${CANARY}')`, 'app');
});
afterAll(async () => {
  await destroyPostgres(pg);
  rmSync(root, { recursive: true, force: true });
});

describe('repository life cycle', () => {
  it('refuses a key given to an unencrypted repository, in one line, exit 2, storing nothing', async () => {
    const d = dir('plain-');
    const repo = `file://${d}`;
    expect((await drctl(['repo', 'init', '--repo', repo])).code).toBe(0);
    const seg = walSegment(d, '000000010000000000000001');
    const r = await drctl(['wal-push', '--repo', repo, seg], withKey());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`drctl: ${repo} is not encrypted, but DRCTL_ENCRYPTION_KEY is set: unset it (drctl never stores plaintext when given a key; an encrypted repository is made with drctl repo init --encrypt)\n`);
    expect(r.all).not.toContain(KEY);
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], withKey());
    expect(b.code).toBe(2);
    expect(existsUnder(d, 'wal') || existsUnder(d, 'backups')).toBe(false);
  });

  it('repo init: --encrypt needs a key, a key needs --encrypt, an existing repository is not initialised again', async () => {
    const repo = `file://${dir('init-')}`;
    expect((await drctl(['repo', 'init', '--repo', repo, '--encrypt'])).code).toBe(2);
    expect((await drctl(['repo', 'init', '--repo', repo], withKey())).code).toBe(2);
    const ok = await drctl(['repo', 'init', '--repo', repo, '--encrypt'], withKey());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('format 2, encrypted: AES-256-GCM, key from scrypt N=2^17 r=8 p=1');
    const again = await drctl(['repo', 'init', '--repo', repo, '--encrypt'], withKey());
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is already a drctl repository');
  });

  it('restores a deleted drctl-repo.json from its copy on the next wal-push: earlier backups still decrypt', async () => {
    const d = dir('copy-');
    const repo = `file://${d}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], withKey());
    expect(b.code, b.stderr).toBe(0);
    const before = readFileSync(path.join(d, 'drctl-repo.json'), 'utf8');
    unlinkSync(path.join(d, 'drctl-repo.json'));
    const push = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000003')], withKey());
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr).toContain('drctl-repo.json was missing; restored it from drctl-repo.json.copy');
    expect(readFileSync(path.join(d, 'drctl-repo.json'), 'utf8')).toBe(before);
    const r = await drctl(['restore', '--target', pg.url('fromcopy'), '--repo', repo], withKey());
    expect(r.code, r.stderr).toBe(0);
    expect(await contentHashes(pg, 'fromcopy')).toEqual(await contentHashes(pg, 'app'));
  });

  it('a damaged drctl-repo.json: cut short, the copy takes over and repairs it; one that no longer opens is not called a wrong key', async () => {
    const d = dir('damaged-');
    const repo = `file://${d}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], withKey());
    expect(b.code, b.stderr).toBe(0);
    const main = path.join(d, 'drctl-repo.json');
    const good = readFileSync(main, 'utf8');
    writeFileSync(main, good.slice(0, good.length >> 1));
    const push = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000006')], withKey());
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr).toContain('drctl-repo.json is not valid JSON; restored it from drctl-repo.json.copy');
    expect(readFileSync(main, 'utf8')).toBe(good);

    // One character of the wrapped key changed: it no longer opens, the copy does.
    const info = JSON.parse(good) as { encryption: { wrappedKey: string } };
    const w = info.encryption.wrappedKey;
    info.encryption.wrappedKey = `${w.slice(0, 10)}${w[10] === 'A' ? 'B' : 'A'}${w.slice(11)}`;
    writeFileSync(main, JSON.stringify(info));
    const r = await drctl(['restore', '--target', pg.url('damagedinfo'), '--repo', repo], withKey());
    expect(r.code, r.all).toBe(1);
    expect(r.all).toContain('drctl-repo.json does not open with this key, but drctl-repo.json.copy, which differs from it, does: either drctl-repo.json is damaged, or the key was changed');
    // A key that opens neither is the wrong key, as before.
    const wrong = await drctl(['restore', '--target', pg.url('damagedinfo'), '--repo', repo], withKey('not the key'));
    expect(wrong.all).toContain(`wrong encryption key for ${repo}`);

    // A newer drctl's format is not damage: refused, and never overwritten from the copy.
    const newer = JSON.stringify({ ...JSON.parse(good), format: 3 });
    writeFileSync(main, newer);
    const push3 = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000007')], withKey());
    expect(push3.code).toBe(1);
    expect(push3.stderr).toContain('repository format 3 is not supported');
    expect(readFileSync(main, 'utf8')).toBe(newer);
  });

  it('never initialises a location that holds backups or WAL but neither repository file', async () => {
    const d = dir('lost-');
    const repo = `file://${d}`;
    expect((await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000004')], withKey())).code).toBe(0);
    unlinkSync(path.join(d, 'drctl-repo.json'));
    unlinkSync(path.join(d, 'drctl-repo.json.copy'));
    const again = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000005')], withKey());
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `drctl: ${repo} holds backups or WAL but neither drctl-repo.json nor drctl-repo.json.copy: refusing to initialise it again (that would make its encrypted data unreadable); put the repository file back from a copy\n`,
    );
    expect(existsUnder(d, 'drctl-repo.json')).toBe(false);
    expect((await drctl(['repo', 'init', '--repo', repo, '--encrypt'], withKey())).code).toBe(1);
  });
});

function existsUnder(d: string, name: string): boolean {
  try {
    statSync(path.join(d, name));
    return true;
  } catch {
    return false;
  }
}

describe('an encrypted format-2 repository', () => {
  let d: string;
  let repo: string;
  let id: string;

  beforeAll(async () => {
    d = dir('enc-');
    repo = `file://${d}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--label', `label ${CANARY}`], withKey());
    expect(b.code, b.stderr).toBe(0);
    id = b.stdout.trim();
  });

  it('stores nothing readable without the key: no table name, canary, database, label or plaintext hash in any file', async () => {
    const seg = walSegment(root, '000000010000000000000007');
    expect((await drctl(['wal-push', '--repo', repo, seg], withKey())).code).toBe(0);
    const v = await drctl(['verify-backups', '--repo', repo], withKey());
    expect(v.code, v.all).toBe(0);
    const stored = files(d);
    expect(stored.some(([p]) => p.startsWith('history/verify/'))).toBe(true);
    const segSha = sha(readFileSync(seg));
    const manifest = JSON.parse((await drctl(['backups', 'show', id, '--repo', repo], withKey())).stdout);
    for (const [p, bytes] of stored) {
      if (p === 'drctl-repo.json' || p === 'drctl-repo.json.copy') continue;
      for (const needle of [TABLE, CANARY, 'pg_dump', manifest.objects[0].sha256, segSha, '"kind"', 'row 1']) {
        expect(bytes.includes(Buffer.from(needle)), `${p} holds ${needle}`).toBe(false);
      }
      expect(p).not.toContain(segSha);
    }
    expect(manifest).toMatchObject({ format: 2, encrypted: true });
    for (const o of manifest.objects) expect(o).toMatchObject({ codec: 'zstd', level: 3 });
    expect(manifest.stats.tables).toContainEqual({ schema: 'public', name: TABLE, rows: 2001 });
  });

  it('rejects a planted manifest that says encrypted: false with a plaintext object and a valid checksum', async () => {
    const plain = dir('plant-src-');
    const pb = await drctl(['backup', '--source', pg.url('app'), '--repo', `file://${plain}`, '--label', 'attacker']);
    expect(pb.code, pb.stderr).toBe(0);
    const planted = pb.stdout.trim().replace('-logical', '-logical-9');
    const target = path.join(d, 'backups', planted);
    cpSync(path.join(plain, 'backups', pb.stdout.trim()), target, { recursive: true });
    // A format-1 shaped manifest, as main wrote them, with its checksum recomputed.
    const m = JSON.parse(readFileSync(path.join(target, 'manifest.json'), 'utf8'));
    m.id = planted;
    m.format = 1;
    for (const o of m.objects) {
      delete o.codec;
      delete o.level;
    }
    const { manifestChecksum } = await import('../../src/repository/manifest.js');
    m.checksum = manifestChecksum(m);
    writeFileSync(path.join(target, 'manifest.json'), JSON.stringify(m));
    // The stored object must be the plaintext the manifest describes.
    const raw = readFileSync(path.join(target, 'data', 'dump.pgc'));
    const { decompress } = await import('zstd-napi');
    const dump = Buffer.from(decompress(raw));
    writeFileSync(path.join(target, 'data', 'dump.pgc'), dump);
    m.objects[0].storedSize = dump.length;
    m.checksum = manifestChecksum(m);
    writeFileSync(path.join(target, 'manifest.json'), JSON.stringify(m));
    expect(sha(dump)).toBe(m.objects[0].sha256);

    const list = await drctl(['backups', 'list', '--repo', repo, '--json'], withKey());
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((b: { id: string }) => b.id)).toEqual([id]);
    const listed = await drctl(['backups', 'list', '--repo', repo], withKey());
    expect(listed.stderr).toContain(`warning: ${planted} not listed: manifest: stored as plaintext in an encrypted repository (refused)`);
    const r = await drctl(['restore', '--backup', planted, '--target', pg.url('planted'), '--repo', repo], withKey());
    expect(r.code).toBe(1);
    expect(r.all).toContain('stored as plaintext in an encrypted repository (refused)');
    expect(await pg.sql("select count(*) from pg_database where datname = 'planted'")).toBe('0');
    rmSync(target, { recursive: true });
  });

  it('fails a WAL object or backup object moved under another name (its identity is authenticated)', async () => {
    const a = walSegment(root, '000000010000000000000010');
    const b = walSegment(root, '000000010000000000000011');
    for (const f of [a, b]) expect((await drctl(['wal-push', '--repo', repo, f], withKey())).code).toBe(0);
    const walDir = path.join(d, 'wal', '00000001');
    const objA = readdirSync(walDir).find((f) => f.startsWith('000000010000000000000010-'))!;
    const objB = readdirSync(walDir).find((f) => f.startsWith('000000010000000000000011-'))!;
    // Segment 11 replaced by segment 10's object, renamed to 11 with 10's (valid) hash.
    unlinkSync(path.join(walDir, objB));
    cpSync(path.join(walDir, objA), path.join(walDir, objA.replace('000000010000000000000010', '000000010000000000000011')));
    const f = await drctl(['wal-fetch', '--repo', repo, '000000010000000000000011', path.join(root, 'fetched-11')], withKey());
    expect(f.code).toBe(255);
    expect(f.stderr).toContain('failed authentication');
    expect(existsUnder(root, 'fetched-11')).toBe(false);

    // A second backup's object copied over the first one's: same key, other path.
    await pg.sql(`insert into ${TABLE} values (100000, 'second')`, 'app');
    const b2 = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], withKey());
    expect(b2.code, b2.stderr).toBe(0);
    const swapped = dir('swap-');
    cpSync(d, swapped, { recursive: true });
    cpSync(path.join(d, 'backups', b2.stdout.trim(), 'data', 'dump.pgc'), path.join(swapped, 'backups', id, 'data', 'dump.pgc'));
    const r = await drctl(['restore', '--backup', id, '--target', pg.url('swapped'), '--repo', `file://${swapped}`], withKey());
    expect(r.code).toBe(1);
    expect(r.all).toContain(`backup ${id}: object data/dump.pgc: frame 0 failed authentication`);
    await pg.sql(`delete from ${TABLE} where id = 100000`, 'app');
  });

  it('repo key change re-wraps the master key: the new passphrase restores, the old one fails, no object changes', async () => {
    const copy = dir('rekey-');
    cpSync(d, copy, { recursive: true });
    const r = `file://${copy}`;
    const data = () => files(copy).filter(([p]) => p.startsWith('backups/') || p.startsWith('wal/'));
    const before = data();
    const NEW = 'the new passphrase canary-new-77';
    const noTty = await drctl(['repo', 'key', 'change', '--repo', r], { env: { DRCTL_ENCRYPTION_KEY: KEY, DRCTL_NEW_ENCRYPTION_KEY: NEW } });
    expect(noTty.code).toBe(4);
    const newFile = path.join(root, 'new-key');
    writeFileSync(newFile, `${NEW}\n`);
    const ch = await drctl(['--yes', 'repo', 'key', 'change', '--repo', r], { env: { DRCTL_ENCRYPTION_KEY: KEY, DRCTL_NEW_ENCRYPTION_KEY_FILE: newFile } });
    expect(ch.code, ch.stderr).toBe(0);
    expect(ch.stdout).toContain('no data was re-encrypted');
    expect(ch.all).not.toContain(NEW);
    expect(data()).toEqual(before);
    expect(readFileSync(path.join(copy, 'drctl-repo.json'))).toEqual(readFileSync(path.join(copy, 'drctl-repo.json.copy')));

    const old = await drctl(['backups', 'list', '--repo', r], withKey());
    expect(old.code).toBe(1);
    expect(old.stderr).toBe(`drctl: wrong encryption key for ${r}\n`);
    const ok = await drctl(['restore', '--backup', id, '--target', pg.url('rekeyed'), '--repo', r], withKey(NEW));
    expect(ok.code, ok.stderr).toBe(0);
    expect(await pg.sql(`select note from ${TABLE} where id = 99999`, 'rekeyed')).toBe(CANARY);
    const seg = await drctl(['wal-fetch', '--repo', r, '000000010000000000000010', path.join(root, 'rekeyed-10')], withKey(NEW));
    expect(seg.code, seg.stderr).toBe(0);
  });

  it('repo info shows format, encryption and sizes', async () => {
    const i = await drctl(['repo', 'info', '--repo', repo, '--json'], withKey());
    expect(i.code, i.stderr).toBe(0);
    const info = JSON.parse(i.stdout);
    expect(info).toMatchObject({ format: 2, encrypted: true, encryption: { cipher: 'aes-256-gcm', kdf: 'scrypt', N: 131072, r: 8, p: 1 } });
    expect(info.backups.count).toBeGreaterThanOrEqual(2);
    expect(info.backups.storedSize).toBeLessThan(info.backups.size);
    expect(info.wal.count).toBeGreaterThanOrEqual(3);
    const text = await drctl(['repo', 'info', '--repo', repo], withKey());
    expect(text.stdout).toMatch(/^format {6}2$/m);
  });
});

describe('compression', () => {
  it('restores backups written with zstd, gzip and none to identical data, and records the codec', async () => {
    const d = dir('codec-');
    const repo = `file://${d}`;
    const sizes: Record<string, number> = {};
    for (const [codec, level] of [['zstd', '5'], ['gzip', '1'], ['none', undefined]] as const) {
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--compress', codec, ...(level ? ['--compress-level', level] : [])]);
      expect(b.code, b.stderr).toBe(0);
      const m = JSON.parse((await drctl(['backups', 'show', b.stdout.trim(), '--repo', repo])).stdout);
      expect(m.objects[0]).toMatchObject({ codec, level: level ? Number(level) : 0 });
      sizes[codec] = m.objects[0].storedSize;
      const r = await drctl(['restore', '--backup', b.stdout.trim(), '--target', pg.url(`codec_${codec}`), '--repo', repo]);
      expect(r.code, r.stderr).toBe(0);
      expect(await contentHashes(pg, `codec_${codec}`)).toEqual(await contentHashes(pg, 'app'));
    }
    expect(sizes.zstd).toBeLessThan(sizes.none! / 2);
    expect(sizes.gzip).toBeLessThan(sizes.none!);
    const bad = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--compress', 'lz4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('drctl: --compress lz4: use zstd, gzip or none\n');
    const badLevel = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--compress', 'gzip', '--compress-level', '12']);
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toBe('drctl: --compress-level 12: gzip takes a level from 1 to 9\n');
  });

  it('detects a corrupted compressed object by checksum before PostgreSQL commits any of it', async () => {
    const d = dir('corrupt-');
    const repo = `file://${d}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--compress', 'zstd']);
    expect(b.code, b.stderr).toBe(0);
    const id = b.stdout.trim();
    const obj = path.join(d, 'backups', id, 'data', 'dump.pgc');
    const buf = readFileSync(obj);
    buf[Math.floor(buf.length * 0.6)] ^= 0x10;
    writeFileSync(obj, buf);
    const r = await drctl(['restore', '--target', pg.url('corrupt'), '--repo', repo]);
    expect(r.code).toBe(1);
    expect(r.all).toContain(`backup ${id}: object data/dump.pgc:`);
    expect(await pg.sql("select count(*) from pg_database where datname = 'corrupt'")).toBe('0');
    const v = await drctl(['verify-backups', '--repo', repo]);
    expect(v.code).toBe(1);
  });

  it('compresses WAL (zstd by default) and fetches it back byte for byte', async () => {
    const d = dir('walz-');
    const repo = `file://${d}`;
    const seg = walSegment(root, '000000010000000000000020', 1024 * 1024);
    expect((await drctl(['wal-push', '--repo', repo, seg])).code).toBe(0);
    const [obj] = readdirSync(path.join(d, 'wal', '00000001'));
    expect(obj).toBe(`000000010000000000000020-${sha(readFileSync(seg))}.zst`);
    expect(statSync(path.join(d, 'wal', '00000001', obj!)).size).toBeLessThan(statSync(seg).size / 2);
    const f = await drctl(['wal-fetch', '--repo', repo, '000000010000000000000020', path.join(root, 'walz-out')]);
    expect(f.code, f.stderr).toBe(0);
    expect(readFileSync(path.join(root, 'walz-out'))).toEqual(readFileSync(seg));
  });
});

describe('WAL re-push', () => {
  it('never answers "already archived" for a stored object that does not match: it writes a verified copy first', async () => {
    for (const key of [undefined, KEY]) {
      const d = dir('repush-');
      const repo = `file://${d}`;
      const o = key ? withKey(key) : {};
      const seg = walSegment(root, '000000010000000000000030', 512 * 1024);
      expect((await drctl(['wal-push', '--repo', repo, seg], o)).code).toBe(0);
      const walDir = path.join(d, 'wal', '00000001');
      const [obj] = readdirSync(walDir);
      // A truncated object, as a full disk leaves it.
      const stored = readFileSync(path.join(walDir, obj!));
      writeFileSync(path.join(walDir, obj!), stored.subarray(0, stored.length >> 1));
      const again = await drctl(['wal-push', '--repo', repo, seg], o);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('with a verified copy');
      const f = await drctl(['wal-fetch', '--repo', repo, '000000010000000000000030', path.join(root, 'repush-out')], o);
      expect(f.code, f.stderr).toBe(0);
      expect(readFileSync(path.join(root, 'repush-out'))).toEqual(readFileSync(seg));
      // Intact and identical: already archived; intact and different: refused.
      expect((await drctl(['wal-push', '--repo', repo, seg], o)).code).toBe(0);
      const other = walSegment(path.join(root, 'state'), '000000010000000000000030', 512 * 1024);
      const c = await drctl(['wal-push', '--repo', repo, other], o);
      expect(c.code).toBe(1);
      expect(c.stderr).toContain('already archived');
      expect(c.stderr).toContain('with different content');
      rmSync(other);
    }
  });
});

describe('format-1 repositories', () => {
  for (const kind of ['plain', 'encrypted'] as const) {
    it(`${kind}: restores the backup, fetches the WAL, and keeps both after being upgraded by a write`, async () => {
      const d = dir(`f1-${kind}-`);
      cpSync(path.join(FIXTURES, kind), d, { recursive: true });
      const repo = `file://${d}`;
      const o = kind === 'encrypted' ? withKey('format1-fixture-passphrase') : {};
      const list = JSON.parse((await drctl(['backups', 'list', '--repo', repo, '--json'], o)).stdout);
      expect(list).toHaveLength(1);
      const check = async (db: string) => {
        const r = await drctl(['restore', '--backup', list[0].id, '--target', pg.url(db), '--repo', repo], o);
        expect(r.code, r.stderr).toBe(0);
        expect(await pg.sql("select note from fixture_canary_table where id = 1000", db)).toBe('FIXTURE-CANARY-7f3a');
        const out = path.join(root, `${db}-seg`);
        const f = await drctl(['wal-fetch', '--repo', repo, '000000010000000000000001', out], o);
        expect(f.code, f.stderr).toBe(0);
        expect(sha(readFileSync(out))).toBe(readFileSync(path.join(FIXTURES, 'segment.sha256'), 'utf8').trim());
      };
      await check(`f1_${kind}`);
      expect(JSON.parse(readFileSync(path.join(d, 'drctl-repo.json'), 'utf8')).format).toBe(1);
      // A write upgrades it in place; the format-1 objects stay readable next to new ones.
      const push = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000002')], o);
      expect(push.code, push.stderr).toBe(0);
      expect(push.stderr).toContain('upgraded the repository from format 1 to 2');
      const info = JSON.parse(readFileSync(path.join(d, 'drctl-repo.json'), 'utf8'));
      expect(info).toMatchObject({ format: 2, upgradedFrom: 1 });
      if (kind === 'encrypted') expect(info.encryption.wrappedKey).toBeTruthy();
      await check(`f1_${kind}_up`);
      const tl = await drctl(['wal-fetch', '--repo', repo, '00000002.history', path.join(root, `${kind}.history`)], o);
      expect(tl.code).toBe(0);
      expect(readFileSync(path.join(root, `${kind}.history`), 'utf8')).toContain('0/3000000');
      if (kind === 'encrypted') {
        // Format-1 manifests were plaintext: one planted in the upgraded repository that says
        // it is not encrypted (with a plaintext object and a valid checksum) is refused.
        const planted = list[0].id.replace('-logical', '-logical-7');
        cpSync(path.join(FIXTURES, 'plain', 'backups', list[0].id), path.join(d, 'backups', planted), { recursive: true });
        const mf = path.join(d, 'backups', planted, 'manifest.json');
        const m = JSON.parse(readFileSync(mf, 'utf8'));
        m.id = planted;
        const { manifestChecksum } = await import('../../src/repository/manifest.js');
        m.checksum = manifestChecksum(m);
        writeFileSync(mf, JSON.stringify(m));
        const listed = await drctl(['backups', 'list', '--repo', repo], o);
        expect(listed.stderr).toContain(`warning: ${planted} not listed: manifest says not encrypted, but the repository is encrypted (refused)`);
        const r = await drctl(['restore', '--backup', planted, '--target', pg.url('f1_planted'), '--repo', repo], o);
        expect(r.code).toBe(1);
        expect(await pg.sql("select count(*) from pg_database where datname = 'f1_planted'")).toBe('0');
      }
    });
  }
});

describe('encrypted repository on S3 (moto)', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket('fmt2');
  });
  afterAll(async () => s3?.stop());

  it('initialises, backs up, archives, restores the info file from its copy, and restores', async () => {
    const repo = 's3://fmt2/enc';
    const env = { ...s3.env, DRCTL_ENCRYPTION_KEY: KEY };
    expect((await drctl(['repo', 'init', '--encrypt', '--repo', repo], { env })).code).toBe(0);
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env });
    expect(b.code, b.stderr).toBe(0);
    const seg = walSegment(root, '000000010000000000000040');
    expect((await drctl(['wal-push', '--repo', repo, seg], { env })).code).toBe(0);
    const { S3Client, DeleteObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID!, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY! } });
    const manifest = await client.send(new GetObjectCommand({ Bucket: 'fmt2', Key: `enc/backups/${b.stdout.trim()}/manifest.json` }));
    expect(Buffer.from(await manifest.Body!.transformToByteArray()).subarray(0, 5).toString()).toBe('DRCE2');
    await client.send(new DeleteObjectCommand({ Bucket: 'fmt2', Key: 'enc/drctl-repo.json' }));
    const again = await drctl(['wal-push', '--repo', repo, walSegment(root, '000000010000000000000041')], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('restored it from drctl-repo.json.copy');
    const r = await drctl(['restore', '--target', pg.url('s3restored'), '--repo', repo], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await contentHashes(pg, 's3restored')).toEqual(await contentHashes(pg, 'app'));
    const f = await drctl(['wal-fetch', '--repo', repo, '000000010000000000000040', path.join(root, 's3-seg')], { env });
    expect(f.code, f.stderr).toBe(0);
    expect(readFileSync(path.join(root, 's3-seg'))).toEqual(readFileSync(seg));
    client.destroy();
  });
});
