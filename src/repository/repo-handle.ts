import { Readable } from 'node:stream';
import { OperationError, UsageError } from '../errors.js';
import { newKdf, passphraseFromEnv, unlock, type KdfParams } from './crypto.js';
import { openStorage, type StorageSettings } from './open-storage.js';
import { ObjectExistsError, ObjectMissingError, readSmall, type Storage } from './storage.js';

// The lean part of a repository: its storage, its info file and its key. wal-push and
// wal-fetch run once per WAL segment under the server, so they use this alone (no zod, no
// manifest code); Repository builds on it for backups.

const INFO_KEY = 'drctl-repo.json';

export interface RepoInfo {
  format: 1;
  created: string;
  encryption?: KdfParams;
}

export class RepoHandle {
  protected constructor(
    readonly url: string,
    readonly storage: Storage,
    protected info: RepoInfo | undefined,
    /** The data key when the repository is encrypted. */
    readonly key: Buffer | undefined,
  ) {}

  /** Opens a repository; `create` initialises it when absent. */
  static async connect(url: string | undefined, s: StorageSettings, o: { create?: boolean } = {}): Promise<{ url: string; storage: Storage; info: RepoInfo; key?: Buffer }> {
    const where = url ?? (s.config.repo as string | undefined) ?? s.env.DRCTL_REPO;
    if (!where) throw new UsageError('no repository: pass --repo, set repo: in drctl.yaml, or set DRCTL_REPO', 'usage.repo');
    const storage = await openStorage(where, s);
    const passphrase = await passphraseFromEnv(s.env);
    const { info, key } = await loadInfo(storage, passphrase, o.create ?? false);
    return { url: where, storage, info, key };
  }

  static async open(url: string | undefined, s: StorageSettings, o: { create?: boolean } = {}): Promise<RepoHandle> {
    const c = await RepoHandle.connect(url, s, o);
    return new RepoHandle(c.url, c.storage, c.info, c.key);
  }

  get encrypted(): boolean {
    return this.info?.encryption !== undefined;
  }
}

async function loadInfo(storage: Storage, passphrase: string | undefined, create: boolean): Promise<{ info: RepoInfo; key?: Buffer }> {
  let text: Buffer | undefined;
  try {
    text = await readSmall(storage, INFO_KEY);
  } catch (err) {
    if (!(err instanceof ObjectMissingError)) throw err;
  }
  if (!text) {
    if (!create) throw new OperationError('repo.missing', `${storage.location}: not a drctl repository (no ${INFO_KEY}); a first backup creates it`);
    const info: RepoInfo = { format: 1, created: new Date().toISOString() };
    let key: Buffer | undefined;
    if (passphrase) {
      const k = await newKdf(passphrase);
      info.encryption = k.params;
      key = k.key;
    }
    try {
      await storage.put(INFO_KEY, Readable.from([Buffer.from(`${JSON.stringify(info, null, 2)}\n`)]), { ifAbsent: true });
      return { info, key };
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
      text = await readSmall(storage, INFO_KEY); // another writer created it first
    }
  }
  let info: RepoInfo;
  try {
    info = JSON.parse(text.toString('utf8')) as RepoInfo;
  } catch {
    throw new OperationError('repo.info', `${storage.location}: ${INFO_KEY} is not valid JSON`);
  }
  if (info.format !== 1) throw new OperationError('repo.format', `${storage.location}: repository format ${String(info.format)} is not supported (this drctl reads format 1)`);
  if (!info.encryption) return { info };
  if (!passphrase) throw new OperationError('repo.key', `${storage.location} is encrypted: set DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE`);
  const key = await unlock(passphrase, info.encryption);
  if (!key) {
    const e = new OperationError('repo.key', `wrong encryption key for ${storage.location}`);
    e.retryable = false;
    throw e;
  }
  return { info, key };
}
