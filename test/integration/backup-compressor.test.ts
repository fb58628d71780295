import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { contentHashes, schemaDump } from '../support/compare.js';
import { destroyPostgres, psqlFile, startPostgres, type PgServer } from '../support/postgres.js';

// A logical backup compresses with the system `zstd` binary when PATH has one (pg_dump writes
// straight into it) and with zstd-napi in process when not. Both must give the same restorable
// data and the same manifest guarantees; a compressor that fails or writes garbage must fail
// the backup in one line and leave no manifest.

const RICH = path.resolve(import.meta.dirname, '..', 'fixtures', 'rich-schema.sql');
const ZSTD = ['/usr/bin/zstd', '/usr/local/bin/zstd', '/bin/zstd'].find((p) => existsSync(p));

const MKFIFO = ['/usr/bin/mkfifo', '/bin/mkfifo'].find((p) => existsSync(p));

/**
 * A directory to use as PATH holding one executable `zstd` script, and `mkfifo` when `fifo`:
 * then pg_dump writes into a FIFO whose path zstd gets as its last argument, else into zstd's
 * stdin.
 */
function pathWithZstd(script: string, fifo = false): string {
  const dir = tempDir('drctl-zstd-bin-');
  // drctl runs it with this directory alone on PATH; the script itself needs the usual tools.
  writeFileSync(path.join(dir, 'zstd'), `#!/bin/sh\nPATH=/usr/bin:/bin\n${script}\n`);
  chmodSync(path.join(dir, 'zstd'), 0o755);
  if (fifo) symlinkSync(MKFIFO!, path.join(dir, 'mkfifo'));
  return dir;
}

/** For a script standing in for zstd: read the FIFO named by the last argument as stdin. */
const FIFO_AS_STDIN = 'for a; do last=$a; done\n[ -p "$last" ] && exec < "$last"\n';

function manifestOf(repoDir: string, id: string): { objects: { path: string; size: number; storedSize: number; sha256: string; codec: string; level: number }[] } {
  return JSON.parse(readFileSync(path.join(repoDir, 'backups', id, 'manifest.json'), 'utf8'));
}

function manifests(repoDir: string): string[] {
  const dir = path.join(repoDir, 'backups');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((id) => existsSync(path.join(dir, id, 'manifest.json')));
}

describe.skipIf(!ZSTD || !MKFIFO)('logical backup through the system zstd binary, and the zstd-napi fallback', () => {
  let pg: PgServer;

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await psqlFile(pg, RICH, 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  it('both paths store zstd objects whose manifest digest is that of the plaintext dump, and restore identical data', async () => {
    const repoDir = tempDir('drctl-repo-');
    const repo = `file://${repoDir}`;
    const markers = tempDir('drctl-marker-');
    // The wrapper proves the binary path was taken, and that zstd read pg_dump's output itself.
    const wrapper = (name: string) => `echo "$*" > '${path.join(markers, name)}'\nexec '${ZSTD}' "$@"`;
    const emptyDir = tempDir('drctl-no-zstd-');
    const ids: Record<string, string> = {};
    // A zstd that takes only regular files as input refuses the FIFO: drctl then feeds its stdin.
    const refusesFifo = `for a; do last=$a; done\n[ -p "$last" ] && { echo "zstd: $last is not a regular file -- ignored" >&2; exit 1; }\n${wrapper('old')}`;
    const paths = [['fifo', pathWithZstd(wrapper('fifo'), true)], ['pipe', pathWithZstd(wrapper('pipe'))], ['old', pathWithZstd(refusesFifo, true)], ['fallback', emptyDir]] as const;
    for (const [name, PATH] of paths) {
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--compress-level', '5'], { env: { PATH } });
      expect(b.code, b.all).toBe(0);
      ids[name] = b.stdout.trim();
    }
    // With mkfifo, zstd reads a FIFO it is given by path (removed once both ends are open);
    // without, its stdin.
    const fifoArgs = readFileSync(path.join(markers, 'fifo'), 'utf8').trim().split(' ');
    expect(fifoArgs).toContain('-5');
    expect(fifoArgs.at(-1)).toMatch(/drctl-pipe-[^/]+\/pipe$/);
    expect(existsSync(path.dirname(fifoArgs.at(-1)!))).toBe(false);
    expect(readFileSync(path.join(markers, 'pipe'), 'utf8').trim().split(' ').at(-1)).toBe('--check');
    expect(readFileSync(path.join(markers, 'old'), 'utf8').trim().split(' ').at(-1)).toBe('--check');

    for (const [name, id] of Object.entries(ids)) {
      const dump = manifestOf(repoDir, id).objects.find((o) => o.path === 'data/dump.pgc')!;
      expect(dump, name).toMatchObject({ codec: 'zstd', level: 5 });
      // What is stored decompresses (with the zstd tool, not drctl) to what the manifest records.
      const plain = spawnSync(ZSTD!, ['-dc', path.join(repoDir, 'backups', id, 'data', 'dump.pgc')], { maxBuffer: 256 * 1024 * 1024 });
      expect(plain.status, name).toBe(0);
      expect(plain.stdout.length, name).toBe(dump.size);
      expect(createHash('sha256').update(plain.stdout).digest('hex'), name).toBe(dump.sha256);
      expect(dump.storedSize, name).toBeLessThan(dump.size / 2);

      const r = await drctl(['restore', '--backup', id, '--target', pg.url(`from_${name}`), '--repo', repo]);
      expect(r.code, r.all).toBe(0);
      expect(await schemaDump(pg, `from_${name}`)).toBe(await schemaDump(pg, 'app'));
      expect(await contentHashes(pg, `from_${name}`)).toEqual(await contentHashes(pg, 'app'));
    }
  });

  it('a compressor that fails, or writes what is not zstd, fails the backup in one line and leaves no manifest', async () => {
    const repoDir = tempDir('drctl-repo-');
    const repo = `file://${repoDir}`;
    const cases: [string, RegExp][] = [
      // Dies part-way through the dump, as on OOM.
      [`${FIFO_AS_STDIN}head -c 100000 > /dev/null\necho "zstd: error 11 : Allocation error : not enough memory" >&2\nexit 11`, /the compressor \(zstd\) failed \(exit 11\): error 11 : Allocation error : not enough memory/],
      // Exits 0 but its output is not a zstd stream: decoding it for the digest catches that.
      [`${FIFO_AS_STDIN}exec cat`, /the zstd stream from the compressor is not valid \(.+\)/],
      // Exits 0 with nothing written: not even an empty frame.
      [`${FIFO_AS_STDIN}cat > /dev/null`, /the zstd stream from the compressor ended empty/],
      // Exits at once, before it opens its input (the FIFO's write end must not wait for ever).
      ['echo "zstd: cannot start" >&2\nexit 3', /the compressor \(zstd\) failed \(exit 3\): cannot start/],
    ];
    for (const [[script, line], fifo] of cases.flatMap((c) => [[c, true], [c, false]] as const)) {
      const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: { PATH: pathWithZstd(script, fifo) } });
      expect(b.code, b.all).toBe(1);
      expect(b.all).toMatch(line);
      expect(b.all).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(manifests(repoDir)).toEqual([]);
      // No object of the failed backup is left behind either.
      const data = readdirSync(path.join(repoDir, 'backups'), { recursive: true }).map(String).filter((f) => f.endsWith('dump.pgc'));
      expect(data).toEqual([]);
    }
    const list = await drctl(['backups', 'list', '--json', '--repo', repo]);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('a source whose tables the user may not read fails the backup in one line naming the cause, through the FIFO too', async () => {
    // The role may connect and read the catalogs, but no table's rows. The row counts read in
    // the snapshot's transaction fail first, which makes pg_dump fail to import the snapshot:
    // the error must name the permission, not the snapshot.
    await pg.sql("create role no_rows login password 'nr'; grant connect on database app to no_rows");
    const url = pg.url('app').replace(/\/\/[^@]*@/, '//no_rows:nr@');
    const repoDir = tempDir('drctl-repo-');
    for (const fifo of [true, false]) {
      const b = await drctl(['backup', '--source', url, '--repo', `file://${repoDir}`], { env: { PATH: pathWithZstd(`exec '${ZSTD}' "$@"`, fifo) } });
      expect(b.code, b.all).toBe(1);
      expect(b.all).toMatch(/permission denied for (schema|table|sequence) /);
      expect(b.all).not.toMatch(/compressor|requested snapshot|\n\s+at .+:\d+:\d+/);
      expect(manifests(repoDir)).toEqual([]);
      const backups = path.join(repoDir, 'backups');
      const data = existsSync(backups) ? readdirSync(backups, { recursive: true }).map(String).filter((f) => f.endsWith('dump.pgc')) : [];
      expect(data).toEqual([]);
    }
  });
});
