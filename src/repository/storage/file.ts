import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chown, link, mkdir, open, readdir, rename, rm, rmdir, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DiskFullError, ObjectExistsError, ObjectMissingError, storedMismatch, type ObjectInfo, type PutOptions, type Storage } from '../storage.js';

// Local filesystem driver. Writes go to a temp name in the same directory, are checked (every
// byte written, the synced size, the sha256 when the caller knows it), then renamed (or
// hard-linked for ifAbsent, which fails if the name is taken): a crash or a full disk leaves at
// most a .tmp file that `backups expire` removes, never a truncated object under its real name.
// Everything is private to its user (0600 files, 0700 directories) whatever the umask; drctl
// running as root writes into a repository another user owns as that user, so archive_command
// (the postgres user) and a root cron job can share one repository.

const TMP = '.tmp-';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export class FileStorage implements Storage {
  readonly location: string;
  private owner?: Promise<{ uid: number; gid: number } | undefined>;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  private abs(key: string): string {
    const p = path.resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + path.sep)) throw new Error(`key escapes repository: ${key}`);
    return p;
  }

  /** The repository root's owner when drctl runs as root and the root belongs to someone else. */
  private foreignOwner(): Promise<{ uid: number; gid: number } | undefined> {
    this.owner ??= (async () => {
      if (process.getuid?.() !== 0) return undefined;
      const s = await stat(this.root).catch(() => undefined);
      return s && s.uid !== 0 ? { uid: s.uid, gid: s.gid } : undefined;
    })();
    return this.owner;
  }

  /** Creates a directory (and its parents) private to the repository's owner. */
  private async mkdirs(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    const own = first && (await this.foreignOwner());
    if (!own || !first) return;
    for (let d = dir; d.startsWith(first); d = path.dirname(d)) {
      await chown(d, own.uid, own.gid).catch(() => {});
      if (d === first) break;
    }
  }

  private async giveAway(fh: FileHandle): Promise<void> {
    const own = await this.foreignOwner();
    if (own) await fh.chown(own.uid, own.gid);
  }

  /** ENOSPC/EDQUOT as one line with what was needed and what is free; other errors unchanged. */
  private async diskFull(err: unknown, dir: string, needed: number | undefined, atLeast: boolean): Promise<unknown> {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return err;
    const fs = await statfs(dir).catch(() => undefined);
    return new DiskFullError(this.location, needed, fs ? fs.bavail * fs.bsize : undefined, atLeast);
  }

  async put(key: string, body: Readable, o: PutOptions = {}): Promise<void> {
    const dest = this.abs(key);
    const dir = path.dirname(dest);
    const tmp = `${dest}${TMP}${process.pid}-${randomBytes(4).toString('hex')}`;
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        hash.update(chunk);
        o.onBytes?.(bytes);
        cb(null, chunk);
      },
    });
    let out: WriteStream | undefined;
    try {
      try {
        await this.mkdirs(dir);
        // The stream retries short writes and fails on ENOSPC/EDQUOT.
        out = createWriteStream(tmp, { flags: 'wx', mode: FILE_MODE });
        await pipeline(body, count, out, { signal: o.signal });
        const fh = await open(tmp, 'r');
        try {
          await fh.sync();
          const stored = (await fh.stat()).size;
          if (stored !== bytes) throw storedMismatch(this.location, key, `${stored} of ${bytes} bytes on disk (short write)`);
          await this.giveAway(fh);
        } finally {
          await fh.close();
        }
      } catch (err) {
        // A pipeline aborted at once (an interrupt) rejects while the file is still being
        // opened: removed before that open completes, it would be created after all.
        if (out && !out.closed) await new Promise<void>((resolve) => out!.once('close', () => resolve()));
        // Free space is measured once the partial copy is gone. What was still to come is
        // unknown for a stream: at least what was accepted.
        await rm(tmp, { force: true });
        throw await this.diskFull(err, dir, o.expect?.size ?? bytes, o.expect?.size === undefined);
      }
      if (o.expect?.size !== undefined && bytes !== o.expect.size) throw storedMismatch(this.location, key, `${bytes} bytes received, ${o.expect.size} expected`);
      const sha256 = hash.digest('hex');
      if (o.expect?.sha256 && sha256 !== o.expect.sha256) throw storedMismatch(this.location, key, `sha256 ${sha256.slice(0, 12)}…, expected ${o.expect.sha256.slice(0, 12)}…`);
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
      await syncDir(dir);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async importFile(localPath: string, keyFor: (sha256: string) => string): Promise<{ key: string; sha256: string; size: number; existed: boolean }> {
    const tmpDir = this.abs('wal/');
    const tmp = path.join(tmpDir, `import${TMP}${process.pid}-${randomBytes(4).toString('hex')}`);
    const src = await open(localPath, 'r');
    const hash = createHash('sha256');
    let size = 0;
    let expected: number | undefined;
    try {
      try {
        expected = (await src.stat()).size;
        await this.mkdirs(tmpDir);
        const dst = await open(tmp, 'wx', FILE_MODE);
        try {
          await this.giveAway(dst);
          // One reused buffer: a fresh 16 MB allocation costs more in page faults than the copy.
          const buf = Buffer.allocUnsafe(1024 * 1024);
          for (;;) {
            const { bytesRead } = await src.read(buf, 0, buf.length, null);
            if (!bytesRead) break;
            hash.update(buf.subarray(0, bytesRead));
            // write(2) may store fewer bytes than asked (a nearly full disk): write the rest,
            // so the next call reports ENOSPC instead of a silently shorter file.
            for (let off = 0; off < bytesRead; ) {
              const { bytesWritten } = await dst.write(buf, off, bytesRead - off);
              if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing'), { code: 'ENOSPC' });
              off += bytesWritten;
            }
            size += bytesRead;
          }
          await dst.sync();
          const stored = (await dst.stat()).size;
          if (stored !== size) throw storedMismatch(this.location, `${path.basename(localPath)}`, `${stored} of ${size} bytes on disk (short write)`);
        } finally {
          await dst.close();
        }
      } catch (err) {
        await rm(tmp, { force: true });
        throw await this.diskFull(err, tmpDir, expected, false);
      }
      if (size !== expected) throw storedMismatch(this.location, path.basename(localPath), `read ${size} bytes of a ${expected}-byte file (it changed while being copied)`);
      const sha256 = hash.digest('hex');
      const key = keyFor(sha256);
      const dest = this.abs(key);
      await this.mkdirs(path.dirname(dest));
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
      let s: Awaited<ReturnType<typeof stat>>;
      try {
        s = await stat(full);
      } catch (err) {
        // Removed since readdir: not an object any more. Any other failure (ESTALE, EIO on
        // NFS) says nothing about whether the object exists, and a listing that silently
        // left it out would let expire take a finished backup for an incomplete one.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (!s.isFile()) continue;
      out.push({ key: path.relative(this.root, full).split(path.sep).join('/'), size: s.size, mtime: s.mtime });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async emptyDirs(prefix: string, before: Date, remove: boolean): Promise<string[]> {
    const base = this.abs(prefix);
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const found: string[] = [];
    const gone = new Set<string>();
    const emptied = new Set<string>();
    // Deepest first: a directory holding only empty ones is empty once they are gone (and its
    // own change time is then ours, not the writer's).
    for (const e of entries.sort((a, b) => b.split(path.sep).length - a.split(path.sep).length)) {
      const full = path.join(base, e);
      const s = await stat(full).catch(() => undefined);
      if (!s?.isDirectory()) continue;
      const inside = (await readdir(full)).filter((n) => !gone.has(path.join(full, n)));
      if (inside.length || (s.mtime >= before && !emptied.has(full))) continue;
      gone.add(full);
      emptied.add(path.dirname(full));
      found.push(`${path.relative(this.root, full).split(path.sep).join('/')}/`);
      if (remove) await rmdir(full).catch(() => {});
    }
    return found;
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
