import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { TarSplit } from '../../src/pitr/tar-split.js';

const run = promisify(execFile);
const root = mkdtempSync(path.join(os.tmpdir(), 'drctl-tar-split-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file, directory and symlink under `dir`, with file contents and link targets. */
function tree(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = path.join(rel, name);
    const st = statSync(path.join(dir, r), { throwIfNoEntry: true });
    const l = readdirSync(path.join(dir, rel), { withFileTypes: true }).find((e) => e.name === name)!;
    if (l.isSymbolicLink()) out[r] = `-> ${execFileSync('readlink', [path.join(dir, r)]).toString().trim()}`;
    else if (st.isDirectory()) Object.assign(out, { [`${r}/`]: '' }, tree(dir, r));
    else out[r] = readFileSync(path.join(dir, r)).toString('base64');
  }
  return out;
}

/** A ustar header (POSIX magic, as pg_basebackup writes) with a correct checksum. */
function header(name: string, type: string, size: number, edit?: (h: Buffer) => void): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write(type, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  edit?.(h);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** A member: header, data, padding. */
function member(name: string, type: string, data: Buffer | string = ''): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([header(name, type, d.length), d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
}

const END = Buffer.alloc(1024);

/** Splits `tar` (written in small chunks) into two parts, draining them. */
async function splitBuffer(tar: Buffer): Promise<void> {
  const split = new TarSplit(2);
  for (const p of split.parts) p.on('error', () => {}).resume();
  const chunks = Array.from({ length: Math.ceil(tar.length / 700) }, (_, i) => tar.subarray(i * 700, (i + 1) * 700));
  await pipeline(Readable.from(chunks), split);
}

describe('TarSplit', () => {
  for (const format of ['gnu', 'pax'] as const) {
    it(`splits a ${format} tar at member boundaries into parts that extract, side by side, to the same tree`, async () => {
      const src = mkdtempSync(path.join(root, 'src-'));
      const long = path.join('base', 'x'.repeat(60), 'y'.repeat(60));
      mkdirSync(path.join(src, long), { recursive: true });
      writeFileSync(path.join(src, long, 'z'.repeat(80)), 'a file whose path needs an extended header');
      mkdirSync(path.join(src, 'global'));
      writeFileSync(path.join(src, 'global', 'big'), Buffer.alloc(3 * 1024 * 1024 + 17, 7));
      for (let i = 0; i < 40; i++) writeFileSync(path.join(src, 'base', `f${i}`), Buffer.alloc(i * 1000 + 1, i));
      writeFileSync(path.join(src, 'empty'), '');
      symlinkSync('global/big', path.join(src, 'link'));
      const tarFile = path.join(root, `${format}.tar`);
      execFileSync('tar', ['-c', `--format=${format}`, '-f', tarFile, '-C', src, '.']);

      const split = new TarSplit(3);
      const files = split.parts.map((_, i) => path.join(root, `${format}.part${i}.tar`));
      await Promise.all([pipeline(createReadStream(tarFile, { highWaterMark: 1000 }), split), ...split.parts.map((p, i) => pipeline(p, createWriteStream(files[i]!)))]);

      // Every part is a tar of its own, none of them empty, and the big file went to one part.
      const sizes = files.map((f) => statSync(f).size);
      expect(sizes.every((s) => s > 1024)).toBe(true);
      expect(sizes.filter((s) => s > 3 * 1024 * 1024)).toHaveLength(1);
      const out = mkdtempSync(path.join(root, 'out-'));
      // Side by side, as a restore does: a directory may be made by either part first.
      await Promise.all(files.map((f) => run('tar', ['-x', '-f', f, '-C', out])));
      expect(tree(out)).toEqual(tree(src));
    });
  }

  it('puts every directory in every part, ahead of the files under it, so no tar has to make one', async () => {
    // Two tars extracting into one directory race when both must make the same parent: the
    // loser gives up on its file. That failed 2 restores in 25 of this test's tree.
    const src = mkdtempSync(path.join(root, 'dirs-src-'));
    for (let d = 0; d < 6; d++) {
      mkdirSync(path.join(src, 'base', `d${d}`, 'deep'), { recursive: true });
      for (let i = 0; i < 5; i++) writeFileSync(path.join(src, 'base', `d${d}`, 'deep', `f${i}`), Buffer.alloc(700 * (i + d) + 1, i));
    }
    mkdirSync(path.join(src, 'pg_notify'));
    const tarFile = path.join(root, 'dirs.tar');
    execFileSync('tar', ['-c', '--format=gnu', '-f', tarFile, '-C', src, '.']);
    const split = new TarSplit(3);
    const files = split.parts.map((_, i) => path.join(root, `dirs.part${i}.tar`));
    await Promise.all([pipeline(createReadStream(tarFile), split), ...split.parts.map((p, i) => pipeline(p, createWriteStream(files[i]!)))]);
    const dirs = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).split('\n').filter((n) => n.endsWith('/'));
    expect(dirs).toContain('./pg_notify/');
    for (const f of files) {
      const names = execFileSync('tar', ['-tf', f], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(names.filter((n) => n.endsWith('/')).sort()).toEqual([...dirs].sort());
      names.forEach((n, at) => {
        const parent = `${path.posix.dirname(n.replace(/\/$/, ''))}/`;
        if (parent !== './') expect(names.indexOf(parent), `${n} in ${f}`).toBeLessThan(at);
      });
    }
  });

  it('fails on a tar that ends inside a member', async () => {
    const src = mkdtempSync(path.join(root, 'cut-'));
    writeFileSync(path.join(src, 'f'), Buffer.alloc(100_000, 1));
    const tarFile = path.join(root, 'cut.tar');
    execFileSync('tar', ['-c', '-f', tarFile, '-C', src, 'f']);
    const split = new TarSplit(2);
    for (const p of split.parts) p.on('error', () => {}).resume();
    await expect(pipeline(createReadStream(tarFile, { end: 50_000 }), split)).rejects.toThrow(/ended inside a member/);
  });

  it('splits a hand-built tar of the member types a base backup holds', async () => {
    const pax = '30 path=base/a-very-long-name\n';
    const tar = Buffer.concat([member('base/', '5'), member('base/f', '0', 'data'), member('old', '\0', 'x'), member('ln', '2'), member('PaxHeader', 'x', pax), member('base/short', '0', 'y'), END]);
    await expect(splitBuffer(tar)).resolves.toBeUndefined();
  });

  it('refuses a header whose checksum does not match', async () => {
    const second = member('base/f', '0', 'data');
    second[3] = 'X'.charCodeAt(0);
    await expect(splitBuffer(Buffer.concat([member('base/', '5'), second, END]))).rejects.toThrow(/bad checksum \("basX\/f"\)/);
  });

  it('refuses a block that is no tar header, and a size field that is no number', async () => {
    const garbage = Buffer.alloc(512, 'q');
    await expect(splitBuffer(Buffer.concat([member('a', '0', 'x'), garbage, END]))).rejects.toThrow(/no tar header/);
    const badSize = header('b', '0', 0, (h) => h.write('99999999999\0', 124));
    await expect(splitBuffer(Buffer.concat([badSize, END]))).rejects.toThrow(/size field is not a number/);
  });

  for (const [type, what] of [['1', 'hard link'], ['S', 'GNU sparse file'], ['g', 'pax global header'], ['3', 'character device'], ['7', 'contiguous file']] as const) {
    it(`refuses a member of type '${type}' (${what})`, async () => {
      const tar = Buffer.concat([member('a', '0', 'x'), member('b', type, type === 'g' ? '12 path=zz\n' : ''), END]);
      await expect(splitBuffer(tar)).rejects.toThrow(new RegExp(`tar type '${type}' \\("b"\\)`));
    });
  }

  it('refuses a pax header that overrides the member size, and a malformed one', async () => {
    const tar = Buffer.concat([member('PaxHeader', 'x', '12 size=100\n'), member('f', '0', 'x'.repeat(100)), END]);
    await expect(splitBuffer(tar)).rejects.toThrow(/overriding a member size/);
    const bad = Buffer.concat([member('PaxHeader', 'x', '99 path=f\n'), member('f', '0', 'x'), END]);
    await expect(splitBuffer(bad)).rejects.toThrow(/malformed pax header/);
  });

  it('refuses a tar with no end-of-archive marker, or only half of one', async () => {
    const body = Buffer.concat([member('a', '0', 'x'), member('b', '0', 'y')]);
    await expect(splitBuffer(body)).rejects.toThrow(/without its end-of-archive marker/);
    await expect(splitBuffer(Buffer.concat([body, Buffer.alloc(512)]))).rejects.toThrow(/without its end-of-archive marker/);
    await expect(splitBuffer(Buffer.concat([body, Buffer.alloc(512), member('c', '0', 'z'), END]))).rejects.toThrow(/lone zero block/);
    // A GNU tar's record padding after the marker is fine.
    await expect(splitBuffer(Buffer.concat([body, END, Buffer.alloc(8192)]))).resolves.toBeUndefined();
  });
});
