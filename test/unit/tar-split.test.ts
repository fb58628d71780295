import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

  it('fails on a tar that ends inside a member', async () => {
    const src = mkdtempSync(path.join(root, 'cut-'));
    writeFileSync(path.join(src, 'f'), Buffer.alloc(100_000, 1));
    const tarFile = path.join(root, 'cut.tar');
    execFileSync('tar', ['-c', '-f', tarFile, '-C', src, 'f']);
    const split = new TarSplit(2);
    for (const p of split.parts) p.on('error', () => {}).resume();
    await expect(pipeline(createReadStream(tarFile, { end: 50_000 }), split)).rejects.toThrow(/ended inside a member/);
  });
});
