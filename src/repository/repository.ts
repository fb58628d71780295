import os from 'node:os';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, OperationError, UsageError } from '../errors.js';
import { drctlVersion } from '../version.js';
import { compressor, decompressor, type Compression } from './compress.js';
import { DecryptError, looksEncrypted } from './crypto.js';
import { chain, HashCounter, VerifyingStream } from './hashing.js';
import { acquireLock, type LockOptions, type RepoLock } from './lock.js';
import { parseManifest, sealManifest, type Manifest, type ObjectEntry } from './manifest.js';
import type { StorageSettings } from './open-storage.js';
import { RepoHandle, type OpenOptions } from './repo-handle.js';
import { bySource, describeSources } from './source.js';
import { ObjectMissingError, readSmall, type ObjectInfo } from './storage.js';
import { isTempKey } from './storage/file.js';
import { ZstdPlainDigest } from './zstd-digest.js';
import { mapLimit } from '../map-limit.js';

// The backup repository, format 2 (format 1 read), over any storage driver:
//   drctl-repo.json, backups/<id>/data/..., backups/<id>/manifest.json (last), wal/, history/.
// Commands talk to this class, never to S3 or the filesystem directly.

/** The code of the UsageError for "latest" among the backups of several databases. */
export const AMBIGUOUS_LATEST = 'usage.latestAmbiguous';

/** Manifests read at once when listing: round trips overlap, a store is not flooded. */
const MANIFEST_READS = 16;

export interface Catalog {
  backups: Manifest[];
  /** Backups whose manifest exists but cannot be trusted. */
  damaged: { id: string; problem: string }[];
  /** Data without a manifest: crashed or running backups. */
  orphans: { id: string; keys: ObjectInfo[]; newest: Date }[];
}

export interface RepositoryOpenOptions extends OpenOptions {
  /**
   * The backup kinds the registered adapters declare. The repository sits below the adapters,
   * so its opener says which kinds exist: a manifest of any other kind is listed as not
   * trusted, with its kind named, and never restored.
   */
  kinds: Iterable<string>;
}

export class Repository extends RepoHandle {
  private kinds: ReadonlySet<string> = new Set();
  /** The repository lock this process holds (backup, expire): checked before commits and removals. */
  private held: RepoLock | undefined;

  /** Opens a repository; `create` initialises it when absent (backup, wal-push). */
  static override async open(url: string | undefined, s: StorageSettings, o: RepositoryOpenOptions): Promise<Repository> {
    const c = await RepoHandle.connect(url, s, o);
    const repo = new Repository(c.url, c.storage, c.info, c.keys, c.compression);
    repo.kinds = new Set(o.kinds);
    return repo;
  }

  /** A new, time-sorted backup id: 20261123T094100Z-logical. */
  async newBackupId(kind: string, now = new Date()): Promise<string> {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let id = `${stamp}-${kind}`;
    for (let n = 2; (await this.storage.list(`backups/${id}/`)).length > 0; n++) id = `${stamp}-${kind}-${n}`;
    return id;
  }

  /**
   * Streams one object of a backup in: hashed as plaintext, then compressed, then encrypted
   * when the repository is (bound to its path).
   */
  async writeObject(
    backupId: string,
    name: string,
    body: Readable,
    o: {
      signal?: AbortSignal;
      onBytes?: (n: number) => void;
      compression?: Compression;
      /**
       * `body` is already compressed with `compression` (zstd) by a separate process: it is
       * stored as it comes and decoded on the side for the plaintext's size and sha256.
       */
      precompressed?: boolean;
    } = {},
  ): Promise<ObjectEntry> {
    const path = `data/${name}`;
    const key = `backups/${backupId}/${path}`;
    const compression = o.compression ?? this.compression;
    let hash: { bytes: number; digest(): string };
    const stages: Transform[] = [];
    if (o.precompressed) {
      if (compression.codec !== 'zstd') throw new OperationError('repo.compress', `${key}: a precompressed body must be zstd, not ${compression.codec}`);
      const digest = await ZstdPlainDigest.create();
      stages.push(digest);
      hash = digest;
    } else {
      const counter = new HashCounter();
      stages.push(counter);
      hash = counter;
      const packer = await compressor(compression);
      if (packer) stages.push(packer);
    }
    if (this.keys) stages.push(this.keys.encryptStream(key));
    // Every driver checks that the store holds exactly the bytes it was given before put()
    // resolves, so the count of what was handed over is the stored size: no extra round trip
    // (a HEAD per object on S3) to read it back.
    let stored = 0;
    stages.push(
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          stored += chunk.length;
          cb(null, chunk);
        },
      }),
    );
    const stream = chain(body, stages);
    // A body that breaks off (a compressor stopped, a part of a base backup whose source
    // failed) can fail before the storage driver has attached to it (the file driver awaits
    // its directory first, an aborted write never attaches); the driver still gets the error
    // from the stream's errored state, and the process must not die of an unheard 'error'.
    stream.on('error', () => {});
    await this.storage.put(key, stream, {
      signal: o.signal,
      onBytes: () => o.onBytes?.(hash.bytes),
    });
    return { path, size: hash.bytes, storedSize: stored, sha256: hash.digest(), codec: compression.codec, level: compression.level };
  }

  /** The plaintext of one object, decrypted, decompressed and verified against its manifest entry. */
  async readObject(m: Manifest, entry: ObjectEntry, o: { signal?: AbortSignal } = {}): Promise<Readable> {
    const key = `backups/${m.id}/${entry.path}`;
    const fail = (detail: string) => new IntegrityError(`backup ${m.id}: object ${entry.path}: ${detail}`);
    if (m.encrypted !== this.encrypted) throw fail(`the manifest says ${m.encrypted ? '' : 'not '}encrypted, the repository is ${this.encrypted ? '' : 'not '}encrypted`);
    let raw: Readable;
    try {
      raw = await this.storage.get(key, o);
    } catch (err) {
      if (err instanceof ObjectMissingError) throw fail('missing from the repository');
      throw err;
    }
    // The checksum is checked last, on the plaintext: whatever fails before it (decryption,
    // decompression) ends the stream with an error before its last chunk is released.
    const stages: Transform[] = [];
    if (this.keys) stages.push(this.keys.decryptStream(key));
    const unpack = await decompressor(entry.codec ?? 'none');
    if (unpack) stages.push(unpack);
    stages.push(new VerifyingStream(entry, fail));
    return chain(raw, stages, (e) => fail(e instanceof DecryptError ? e.message : `cannot be decompressed (${entry.codec}: ${e.message})`));
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
    // A backup of a kind no adapter declares could never be listed or restored again.
    if (!this.kinds.has(m.kind)) throw new Error(`backup kind "${m.kind}" is declared by no adapter`);
    const sealed = sealManifest({
      format: 2,
      tool: { name: 'drctl', version: drctlVersion(), host: os.hostname() },
      encrypted: this.encrypted,
      size: m.objects.reduce((a, o) => a + o.size, 0),
      storedSize: m.objects.reduce((a, o) => a + o.storedSize, 0),
      ...m,
    });
    await this.held?.assertHeld(`writing the manifest of ${m.id}`);
    await this.putDocument(`backups/${m.id}/manifest.json`, sealed);
    return sealed;
  }

  /**
   * Writes a small JSON document (manifest, history): encrypted and bound to its key when the
   * repository is encrypted, so nothing but the repository file is readable without the key.
   */
  async putDocument(key: string, doc: unknown): Promise<void> {
    const text = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
    await this.storage.put(key, Readable.from([this.keys ? await this.keys.seal(key, text) : text]));
  }

  /**
   * Reads a document written by putDocument. In an encrypted repository a plaintext document is
   * refused, except the plaintext ones a format-1 repository wrote before it was upgraded
   * (`legacyPlaintext`).
   */
  async getDocument(key: string, o: { legacyPlaintext?: boolean } = {}): Promise<string> {
    const stored = await readSmall(this.storage, key);
    if (!this.keys) {
      if (looksEncrypted(stored)) throw new IntegrityError(`${key}: encrypted, but the repository is not`);
      return stored.toString('utf8');
    }
    if (!looksEncrypted(stored)) {
      if (o.legacyPlaintext && this.keys.acceptFormat1) return stored.toString('utf8');
      throw new IntegrityError(`${key}: stored as plaintext in an encrypted repository (refused)`);
    }
    try {
      return (await this.keys.open(key, stored)).toString('utf8');
    } catch (err) {
      throw new IntegrityError(`${key}: ${(err as Error).message}`);
    }
  }

  /** One manifest, decrypted and checked: the manifest, or why it cannot be trusted. */
  async readManifest(id: string): Promise<{ manifest?: Manifest; problem?: string }> {
    const key = `backups/${id}/manifest.json`;
    let text: string;
    try {
      text = await this.getDocument(key, { legacyPlaintext: true });
    } catch (err) {
      if (err instanceof IntegrityError) return { problem: err.message.replace(`${key}: `, 'manifest: ') };
      throw err;
    }
    const r = parseManifest(text);
    if (!r.manifest) return r;
    const m = r.manifest;
    if (m.id !== id) return { problem: `manifest names ${m.id}, not ${id}` };
    if (!this.kinds.has(m.kind)) return { problem: `unknown backup kind "${m.kind}" (this drctl knows ${[...this.kinds].join(', ')})` };
    if (m.encrypted !== this.encrypted) {
      return { problem: `manifest says ${m.encrypted ? 'encrypted' : 'not encrypted'}, but the repository is ${this.encrypted ? 'encrypted' : 'not'} (refused)` };
    }
    if (this.keys && m.format === 1 && !this.keys.acceptFormat1) return { problem: 'a format-1 manifest in a repository created with format 2 (refused)' };
    if (m.format === 1 && m.objects.some((e) => e.codec !== undefined && e.codec !== 'none')) return { problem: 'a format-1 manifest cannot name a codec' };
    return r;
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
    const withManifest: string[] = [];
    for (const [id, list] of [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (list.some((k) => k.key === `backups/${id}/manifest.json`)) withManifest.push(id);
      else out.orphans.push({ id, keys: list, newest: new Date(Math.max(...list.map((k) => k.mtime.getTime()))) });
    }
    const read = await mapLimit(withManifest, MANIFEST_READS, (id) => this.readManifest(id));
    withManifest.forEach((id, i) => {
      const { manifest, problem } = read[i]!;
      if (manifest) out.backups.push(manifest);
      else out.damaged.push({ id, problem: problem ?? 'manifest cannot be read' });
    });
    out.backups.sort((a, b) => (a.stoppedAt < b.stoppedAt ? -1 : a.stoppedAt > b.stoppedAt ? 1 : a.id < b.id ? -1 : 1));
    return out;
  }

  /**
   * A backup by id, or for "latest" the newest of the given kinds (default: any). "latest" is
   * refused (UsageError) when those backups are of several databases (source.ts): the newest
   * of them could be another database's, restored over this one. `anySource` lifts that for
   * callers that only show a backup.
   */
  async resolve(idOrLatest: string, kinds: readonly string[] = [...this.kinds], o: { anySource?: boolean; of?: (candidates: Manifest[]) => Manifest[] } = {}): Promise<Manifest> {
    const { backups, damaged } = await this.catalog();
    // `of` narrows "latest" to the backups of what the caller restores (an env file by name).
    const ofKinds = backups.filter((b) => kinds.includes(b.kind));
    const candidates = idOrLatest === 'latest' && o.of ? o.of(ofKinds) : ofKinds;
    if (idOrLatest === 'latest') {
      const newest = candidates[candidates.length - 1];
      const which = kinds.length === this.kinds.size ? '' : `${kinds.join('/')} `;
      if (!newest) throw new OperationError('backup.none', `no ${which}backup in ${this.storage.location}`);
      const groups = [...bySource(candidates).values()];
      if (groups.length > 1 && !o.anySource) {
        throw new UsageError(AMBIGUOUS_LATEST, `--backup latest: ${this.storage.location} holds ${which}backups of ${groups.length} databases, ${describeSources(groups)}; pass --backup <id> to say which`);
      }
      return newest;
    }
    const found = backups.find((b) => b.id === idOrLatest);
    if (found && kinds.includes(found.kind)) return found;
    if (found) throw new UsageError('usage.backup', `backup ${idOrLatest} is a ${found.kind} backup; this needs ${kinds.join(' or ')}`);
    const bad = damaged.find((d) => d.id === idOrLatest);
    if (bad) throw new IntegrityError(`backup ${idOrLatest}: ${bad.problem}`);
    const newest = candidates[candidates.length - 1];
    throw new UsageError('usage.backup', `--backup ${idOrLatest}: no such backup in ${this.storage.location}${newest ? ` (newest: ${newest.id}; see drctl backups list)` : ' (it has none)'}`
    );
  }

  /** Removes a backup: manifest first, so a half-removed backup is never listed. */
  async removeBackup(id: string): Promise<void> {
    await this.held?.assertHeld(`removing ${id}`);
    await this.storage.remove(`backups/${id}/manifest.json`);
    for (const k of await this.storage.list(`backups/${id}/`)) await this.storage.remove(k.key);
  }

  /** Whether backups/<id>/manifest.json exists, asked by name rather than read from a listing. */
  async hasManifest(id: string): Promise<boolean> {
    return (await this.storage.stat(`backups/${id}/manifest.json`)) !== undefined;
  }

  /**
   * Removes the data of a backup that has no manifest; false, and nothing removed, when its
   * manifest exists after all (it committed, or the listing that called it an orphan lagged).
   */
  async removeOrphan(id: string): Promise<boolean> {
    await this.held?.assertHeld(`removing the data of ${id}`);
    if (await this.hasManifest(id)) return false;
    for (const k of await this.storage.list(`backups/${id}/`)) await this.storage.remove(k.key);
    return true;
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
    this.held = held;
    return async () => {
      if (this.held === held) this.held = undefined;
      await held.release();
    };
  }
}
