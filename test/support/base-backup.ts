import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import path from 'node:path';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { baseParts } from '../../src/adapters/postgres/base-extract.js';
import type { Manifest } from '../../src/repository/manifest.js';
import type { Repository } from '../../src/repository/repository.js';

const run = promisify(execFile);

/** A base backup's parts, verified and decompressed, joined into one plain tar at `file`. */
export async function baseBackupAsOneTar(r: Repository, m: Manifest, file: string): Promise<void> {
  const files: string[] = [];
  for (const [i, p] of baseParts(m).entries()) {
    const out = i === 0 ? file : `${file}.${i}`;
    const { DecompressStream } = await import('zstd-napi');
    const unpack = p.codec === 'gzip' ? createGunzip() : (new DecompressStream() as unknown as Transform);
    await pipeline(await r.readObject(m, p.entry), unpack, createWriteStream(out));
    files.push(out);
  }
  if (files.length > 1) await run('tar', ['--concatenate', '-f', file, ...files.slice(1)]);
  for (const f of files.slice(1)) rmSync(f);
}

/**
 * Stores the plain tar `file` as a new base backup of the earlier layout: one gzip object,
 * base.tar.gz, with `m`'s WAL range and times. Returns its id.
 */
export async function storeSingleGzipBackup(r: Repository, m: Manifest, file: string): Promise<string> {
  const id = await r.newBackupId('base');
  const entry = await r.writeObject(id, 'base.tar.gz', createReadStream(file).pipe(createGzip({ level: 1 })), { compression: { codec: 'none', level: 0 } });
  const { checksum: _c, format: _f, tool: _t, encrypted: _e, size: _s, storedSize: _ss, ...rest } = m;
  await r.commit({ ...rest, id, objects: [entry], extra: { ...m.extra, compression: 'gzip', parts: undefined } });
  return id;
}

/** A copy of base backup `m` under a new id, with the stored bytes of `part` altered in the middle (file:// repositories). */
export async function copyWithCorruptPart(r: Repository, m: Manifest, repoDir: string, part: number): Promise<string> {
  const id = await r.newBackupId('base');
  const parts = baseParts(m);
  for (const o of m.objects) {
    const from = path.join(repoDir, 'backups', m.id, o.path);
    const to = path.join(repoDir, 'backups', id, o.path);
    await run('mkdir', ['-p', path.dirname(to)]);
    await run('cp', [from, to]);
  }
  const victim = path.join(repoDir, 'backups', id, parts[part]!.entry.path);
  const { openSync, readSync, writeSync, closeSync, statSync } = await import('node:fs');
  const fd = openSync(victim, 'r+');
  const at = Math.floor(statSync(victim).size / 2);
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
  const { checksum: _c, format: _f, tool: _t, encrypted: _e, size: _s, storedSize: _ss, ...rest } = m;
  await r.commit({ ...rest, id });
  return id;
}
