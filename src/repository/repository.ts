import os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, OperationError, UsageError } from '../errors.js';
import { drctlVersion } from '../version.js';
import { decryptStream, encryptStream } from './crypto.js';
import { HashCounter, VerifyingStream } from './hashing.js';
import { acquireLock, type LockOptions } from './lock.js';
import { parseManifest, sealManifest, type Manifest, type ObjectEntry } from './manifest.js';
import type { StorageSettings } from './open-storage.js';
import { RepoHandle } from './repo-handle.js';
import { ObjectMissingError, readSmall, type ObjectInfo } from './storage.js';
import { isTempKey } from './storage/file.js';

// The backup repository, format 1, over any storage driver:
//   drctl-repo.json, backups/<id>/data/..., backups/<id>/manifest.json (last), wal/, history/.
// Commands talk to this class, never to S3 or the filesystem directly.

export interface Catalog {
  backups: Manifest[];
  /** Backups whose manifest exists but cannot be trusted. */
  damaged: { id: string; problem: string }[];
  /** Data without a manifest: crashed or running backups. */
  orphans: { id: string; keys: ObjectInfo[]; newest: Date }[];
}

export class Repository extends RepoHandle {
  /** Opens a repository; `create` initialises it when absent (backup, wal-push). */
  static override async open(url: string | undefined, s: StorageSettings, o: { create?: boolean } = {}): Promise<Repository> {
    const c = await RepoHandle.connect(url, s, o);
    return new Repository(c.url, c.storage, c.info, c.key);
  }

  /** A new, time-sorted backup id: 20261123T094100Z-logical. */
  async newBackupId(kind: string, now = new Date()): Promise<string> {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let id = `${stamp}-${kind}`;
    for (let n = 2; (await this.storage.list(`backups/${id}/`)).length > 0; n++) id = `${stamp}-${kind}-${n}`;
    return id;
  }

  /** Streams one object of a backup in: hashed as plaintext, encrypted when configured. */
  async writeObject(backupId: string, name: string, body: Readable, o: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<ObjectEntry> {
    const hash = new HashCounter();
    const path = `data/${name}`;
    const stages: NodeJS.ReadWriteStream[] = this.key ? [hash, encryptStream(this.key)] : [hash];
    let stored = 0;
    // Each stage's errors travel down the chain, so the driver sees them and discards the write.
    let source: Readable = body;
    for (const stage of stages) {
      const next = stage as unknown as Readable & NodeJS.WritableStream;
      source.on('error', (e) => next.destroy(e));
      source = source.pipe(next) as unknown as Readable;
    }
    await this.storage.put(`backups/${backupId}/${path}`, source, {
      signal: o.signal,
      onBytes: (n) => {
        stored = n;
        o.onBytes?.(hash.bytes);
      },
    });
    const info = await this.storage.stat(`backups/${backupId}/${path}`);
    return { path, size: hash.bytes, storedSize: info?.size ?? stored, sha256: hash.digest() };
  }

  /** The plaintext of one object, decrypted and verified against its manifest entry. */
  async readObject(m: Manifest, entry: ObjectEntry, o: { signal?: AbortSignal } = {}): Promise<Readable> {
    const key = `backups/${m.id}/${entry.path}`;
    const fail = (detail: string) => new IntegrityError(`backup ${m.id}: object ${entry.path}: ${detail}`);
    let raw: Readable;
    try {
      raw = await this.storage.get(key, o);
    } catch (err) {
      if (err instanceof ObjectMissingError) throw fail('missing from the repository');
      throw err;
    }
    const verify = new VerifyingStream(entry, fail);
    if (!m.encrypted) {
      raw.on('error', (e) => verify.destroy(e));
      return raw.pipe(verify);
    }
    if (!this.key) throw new OperationError('repo.key', `backup ${m.id} is encrypted: set DRCTL_ENCRYPTION_KEY`);
    const dec = decryptStream(this.key);
    raw.on('error', (e) => dec.destroy(e));
    dec.on('error', (e) => verify.destroy(fail((e as Error).message)));
    return raw.pipe(dec).pipe(verify);
  }

  /** Re-reads an object to its end: throws IntegrityError on any mismatch. */
  async verifyObject(m: Manifest, entry: ObjectEntry, o: { signal?: AbortSignal } = {}): Promise<void> {
    const stream = await this.readObject(m, entry, o);
    await pipeline(stream, async function* (src) {
      for await (const _ of src) {
        // drain
      }
    });
  }

  /** Writes the manifest: the moment the backup starts to exist. */
  async commit(m: Omit<Manifest, 'checksum' | 'format' | 'tool' | 'encrypted' | 'size' | 'storedSize'>): Promise<Manifest> {
    const sealed = sealManifest({
      format: 1,
      tool: { name: 'drctl', version: drctlVersion(), host: os.hostname() },
      encrypted: this.encrypted,
      size: m.objects.reduce((a, o) => a + o.size, 0),
      storedSize: m.objects.reduce((a, o) => a + o.storedSize, 0),
      ...m,
    });
    await this.storage.put(`backups/${m.id}/manifest.json`, Readable.from([Buffer.from(`${JSON.stringify(sealed, null, 2)}\n`)]));
    return sealed;
  }

  /** Every backup with a valid manifest (oldest first), the damaged ones, and the orphans. */
  async catalog(): Promise<Catalog> {
    const keys = await this.storage.list('backups/');
    const byId = new Map<string, ObjectInfo[]>();
    for (const k of keys) {
      const id = k.key.split('/')[1];
      if (!id) continue;
      const list = byId.get(id) ?? [];
      list.push(k);
      byId.set(id, list);
    }
    const out: Catalog = { backups: [], damaged: [], orphans: [] };
    for (const [id, list] of [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const hasManifest = list.some((k) => k.key === `backups/${id}/manifest.json`);
      if (!hasManifest) {
        out.orphans.push({ id, keys: list, newest: new Date(Math.max(...list.map((k) => k.mtime.getTime()))) });
        continue;
      }
      const { manifest, problem } = parseManifest((await readSmall(this.storage, `backups/${id}/manifest.json`)).toString('utf8'));
      if (manifest && manifest.id === id) out.backups.push(manifest);
      else out.damaged.push({ id, problem: problem ?? `manifest names ${manifest?.id}, not ${id}` });
    }
    out.backups.sort((a, b) => (a.stoppedAt < b.stoppedAt ? -1 : a.stoppedAt > b.stoppedAt ? 1 : a.id < b.id ? -1 : 1));
    return out;
  }

  /** A backup by id, or the newest of the given kinds for "latest". */
  async resolve(idOrLatest: string, kinds: Manifest['kind'][]): Promise<Manifest> {
    const { backups, damaged } = await this.catalog();
    const candidates = backups.filter((b) => kinds.includes(b.kind));
    if (idOrLatest === 'latest') {
      const newest = candidates[candidates.length - 1];
      if (!newest) throw new OperationError('backup.none', `no ${kinds.join('/')} backup in ${this.storage.location}`);
      return newest;
    }
    const found = backups.find((b) => b.id === idOrLatest);
    if (found && kinds.includes(found.kind)) return found;
    if (found) throw new UsageError(`backup ${idOrLatest} is a ${found.kind} backup; this needs ${kinds.join(' or ')}`, 'usage.backup');
    const bad = damaged.find((d) => d.id === idOrLatest);
    if (bad) throw new IntegrityError(`backup ${idOrLatest}: ${bad.problem}`);
    const newest = candidates[candidates.length - 1];
    throw new UsageError(
      `--backup ${idOrLatest}: no such backup in ${this.storage.location}${newest ? ` (newest: ${newest.id}; see drctl backups list)` : ' (it has none)'}`,
      'usage.backup',
    );
  }

  /** Removes a backup: manifest first, so a half-removed backup is never listed. */
  async removeBackup(id: string): Promise<void> {
    await this.storage.remove(`backups/${id}/manifest.json`);
    for (const k of await this.storage.list(`backups/${id}/`)) await this.storage.remove(k.key);
  }

  /** Temp files crashed writers left (file driver). */
  async tempFiles(): Promise<ObjectInfo[]> {
    return (await this.storage.list('')).filter((k) => isTempKey(k.key));
  }

  /**
   * Takes the repository lock (backup, expire): see lock.ts. A stale lock is taken over, a live
   * one waited for up to `waitMs` or reported with its holder. The returned function releases it.
   */
  async lock(purpose: string, o: LockOptions = {}): Promise<() => Promise<void>> {
    const held = await acquireLock(this.storage, purpose, o);
    return () => held.release();
  }
}
