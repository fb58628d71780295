import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectExistsError, ObjectMissingError, type ObjectInfo, type PutOptions, type Storage } from '../storage.js';

// Local filesystem driver. Writes go to a temp name in the same directory, are fsynced, then
// renamed (or hard-linked for ifAbsent, which fails if the name is taken): a crash leaves a
// .tmp file that `backups expire` removes, never a truncated object under its real name.

const TMP = '.tmp-';

export class FileStorage implements Storage {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  private abs(key: string): string {
    const p = path.resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + path.sep)) throw new Error(`key escapes repository: ${key}`);
    return p;
  }

  async put(key: string, body: Readable, o: PutOptions = {}): Promise<void> {
    const dest = this.abs(key);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}${TMP}${process.pid}-${randomBytes(4).toString('hex')}`;
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        o.onBytes?.(bytes);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(tmp, { flags: 'wx' }), { signal: o.signal });
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (o.ifAbsent) {
        try {
          await link(tmp, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key);
          throw err;
        } finally {
          await unlink(tmp).catch(() => {});
        }
      } else await rename(tmp, dest);
      await syncDir(path.dirname(dest));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async importFile(localPath: string, keyFor: (sha256: string) => string): Promise<{ key: string; sha256: string; size: number; existed: boolean }> {
    // One reused buffer: a fresh 16 MB allocation costs more in page faults than the copy.
    const tmpDir = this.abs('wal/');
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `import${TMP}${process.pid}-${randomBytes(4).toString('hex')}`);
    const src = await open(localPath, 'r');
    const hash = createHash('sha256');
    let size = 0;
    try {
      const dst = await open(tmp, 'wx');
      try {
        const buf = Buffer.allocUnsafe(1024 * 1024);
        for (;;) {
          const { bytesRead } = await src.read(buf, 0, buf.length, null);
          if (!bytesRead) break;
          hash.update(buf.subarray(0, bytesRead));
          await dst.write(buf, 0, bytesRead);
          size += bytesRead;
        }
        await dst.sync();
      } finally {
        await dst.close();
      }
      const sha256 = hash.digest('hex');
      const key = keyFor(sha256);
      const dest = this.abs(key);
      await mkdir(path.dirname(dest), { recursive: true });
      let existed = false;
      try {
        await link(tmp, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        existed = true;
      }
      if (!existed) await syncDir(path.dirname(dest));
      return { key, sha256, size, existed };
    } finally {
      await src.close();
      await rm(tmp, { force: true });
    }
  }

  async get(key: string): Promise<Readable> {
    const p = this.abs(key);
    try {
      const fh = await open(p, 'r');
      return createReadStream('', { fd: fh, highWaterMark: 1024 * 1024 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectMissingError(key);
      throw err;
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.abs(key));
      return s.isFile() ? { key, size: s.size, mtime: s.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // A prefix ending in '/' is a directory; otherwise list its directory and filter by name.
    if (prefix && !prefix.endsWith('/')) {
      const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
      return (await this.list(dir)).filter((o) => o.key.startsWith(prefix));
    }
    const base = this.abs(prefix);
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    }
    const out: ObjectInfo[] = [];
    for (const e of entries) {
      const full = path.join(base, e);
      const s = await stat(full).catch(() => undefined);
      if (!s?.isFile()) continue;
      out.push({ key: path.relative(this.root, full).split(path.sep).join('/'), size: s.size, mtime: s.mtime });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async remove(key: string): Promise<void> {
    const p = this.abs(key);
    await rm(p, { force: true });
    // Prune directories left empty, so removed backups leave nothing behind.
    for (let dir = path.dirname(p); dir.startsWith(this.root + path.sep); dir = path.dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

/** True for temp files a crashed writer left behind. */
export function isTempKey(key: string): boolean {
  return key.includes(TMP);
}
