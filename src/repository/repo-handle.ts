import { Readable } from 'node:stream';
import { OperationError, UsageError } from '../errors.js';
import { DEFAULT_COMPRESSION, parseCompression, type Compression } from './compress.js';
import { passphraseFromEnv, RepoKeys, unlock1, unwrapMasterKey, wrapMasterKey, type KdfParams1, type KdfParams2 } from './crypto.js';
import { openStorage, type StorageSettings } from './open-storage.js';
import { ObjectExistsError, ObjectMissingError, readSmall, type Storage } from './storage.js';

// The lean part of a repository: its storage, its info file and its keys. wal-push and
// wal-fetch run once per WAL segment under the server, so they use this alone (no zod, no
// manifest code); Repository builds on it for backups.
//
// drctl-repo.json is the one file readable without the key (format, creation time, the
// wrapped master key). It is written twice, as drctl-repo.json and drctl-repo.json.copy: losing
// it would make every encrypted object unreadable, so a missing main file is restored from the
// copy, and a location that holds data but neither file is never initialised afresh.

export const INFO_KEY = 'drctl-repo.json';
export const INFO_COPY_KEY = 'drctl-repo.json.copy';
export const REPO_FORMAT = 2;

export interface RepoInfo {
  format: 1 | 2;
  created: string;
  encryption?: KdfParams1 | KdfParams2;
  /** Set when a format-1 repository was upgraded in place: its old objects stay readable. */
  upgradedFrom?: 1;
}

export interface OpenOptions {
  /** Initialise an empty location (backup, wal-push), and upgrade a format-1 repository. */
  create?: boolean;
  /** Where notes about what was created or repaired go (default: stderr). */
  notice?: (line: string) => void;
  /**
   * With create: put back a missing copy of the info file (a request to look for it). wal-push
   * runs once per WAL segment and leaves that to backups, which open the repository with it.
   */
  repairCopy?: boolean;
}

export interface Connection {
  url: string;
  storage: Storage;
  info: RepoInfo;
  keys?: RepoKeys;
  compression: Compression;
}

export class RepoHandle {
  protected constructor(
    readonly url: string,
    readonly storage: Storage,
    protected info: RepoInfo,
    /** The keys when the repository is encrypted. */
    readonly keys: RepoKeys | undefined,
    /** How new objects are compressed unless a caller says otherwise. */
    readonly compression: Compression,
  ) {}

  /** Opens a repository; `create` initialises it when absent. */
  static async connect(url: string | undefined, s: StorageSettings, o: OpenOptions = {}): Promise<Connection> {
    const where = url ?? (s.config.repo as string | undefined) ?? s.env.DRCTL_REPO;
    if (!where) throw new UsageError('usage.repo', 'no repository: pass --repo, set repo: in drctl.yaml, or set DRCTL_REPO');
    const compression = s.config.compress === undefined && s.config.compressLevel === undefined
      ? DEFAULT_COMPRESSION
      : parseCompression(s.config.compress as string | undefined, s.config.compressLevel as number | undefined, 'compress');
    const storage = await openStorage(where, s);
    const passphrase = await passphraseFromEnv(s.env);
    const notice = o.notice ?? ((line: string) => process.stderr.write(`drctl: ${line}\n`));
    const { info, keys } = await loadInfo(storage, passphrase, { create: o.create ?? false, repairCopy: o.repairCopy ?? true }, notice);
    return { url: where, storage, info, keys, compression };
  }

  static async open(url: string | undefined, s: StorageSettings, o: OpenOptions = {}): Promise<RepoHandle> {
    const c = await RepoHandle.connect(url, s, o);
    return new RepoHandle(c.url, c.storage, c.info, c.keys, c.compression);
  }

  get encrypted(): boolean {
    return this.info.encryption !== undefined;
  }

  get format(): 1 | 2 {
    return this.info.format;
  }

  get created(): string {
    return this.info.created;
  }

  /** What drctl-repo.json says (no secret in it: the master key is wrapped). */
  get infoFile(): Readonly<RepoInfo> {
    return this.info;
  }

  /**
   * Wraps the master key under a new passphrase and rewrites the info file and its copy. No
   * object is re-encrypted. A format-1 repository is upgraded on the way (its one key
   * becomes the master key).
   */
  async changePassphrase(newPassphrase: string): Promise<void> {
    if (!this.keys) throw new UsageError('usage.key', `${this.storage.location} is not encrypted: there is no key to change`);
    const wrapped = await wrapMasterKey(newPassphrase, this.keys.master);
    const next: RepoInfo = { ...this.info, format: REPO_FORMAT, encryption: wrapped.params };
    if (this.info.format === 1) next.upgradedFrom = 1;
    await writeInfo(this.storage, next);
    this.info = next;
  }
}

async function readInfoFile(storage: Storage, key: string): Promise<Buffer | undefined> {
  try {
    return await readSmall(storage, key);
  } catch (err) {
    if (err instanceof ObjectMissingError) return undefined;
    throw err;
  }
}

/** The info file (or its copy) without unlocking anything; undefined when neither is there or readable. */
export async function readInfo(storage: Storage): Promise<RepoInfo | undefined> {
  const text = (await readInfoFile(storage, INFO_KEY)) ?? (await readInfoFile(storage, INFO_COPY_KEY));
  if (!text) return undefined;
  try {
    return parseInfo(storage, text, INFO_KEY);
  } catch {
    return undefined;
  }
}

function infoBody(info: RepoInfo): Readable {
  return Readable.from([Buffer.from(`${JSON.stringify(info, null, 2)}\n`)]);
}

/** Writes the info file and its copy (the main file first: a reader prefers it). */
export async function writeInfo(storage: Storage, info: RepoInfo): Promise<void> {
  await storage.put(INFO_KEY, infoBody(info));
  await storage.put(INFO_COPY_KEY, infoBody(info));
}

/** True when the location holds backups or WAL. */
export async function holdsData(storage: Storage): Promise<boolean> {
  return (await storage.list('backups/')).length > 0 || (await storage.list('wal/')).length > 0;
}

function parseInfo(storage: Storage, text: Buffer, key: string): RepoInfo {
  let info: RepoInfo;
  try {
    info = JSON.parse(text.toString('utf8')) as RepoInfo;
  } catch {
    throw new OperationError('repo.info', `${storage.location}: ${key} is not valid JSON`);
  }
  if (info.format !== 1 && info.format !== 2) {
    throw new OperationError('repo.format', `${storage.location}: repository format ${String(info.format)} is not supported (this drctl reads formats 1 and 2)`);
  }
  return info;
}

/** A new format-2 repository's info and keys: encrypted when a passphrase is given. */
export async function newInfo(passphrase: string | undefined): Promise<{ info: RepoInfo; keys?: RepoKeys }> {
  const info: RepoInfo = { format: REPO_FORMAT, created: new Date().toISOString() };
  if (!passphrase) return { info };
  const w = await wrapMasterKey(passphrase);
  info.encryption = w.params;
  return { info, keys: new RepoKeys(w.master, false) };
}

/** Creates the info file unless another writer did first; then the one that exists wins. */
export async function createInfo(storage: Storage, info: RepoInfo): Promise<boolean> {
  try {
    await storage.put(INFO_KEY, infoBody(info), { ifAbsent: true });
  } catch (err) {
    if (err instanceof ObjectExistsError) return false;
    throw err;
  }
  await storage.put(INFO_COPY_KEY, infoBody(info));
  return true;
}

export function refuseLostInfo(storage: Storage): OperationError {
  const e = new OperationError(
    'repo.info-lost',
    `${storage.location} holds backups or WAL but neither ${INFO_KEY} nor ${INFO_COPY_KEY}: refusing to initialise it again (that would make its encrypted data unreadable); put the repository file back from a copy`,
  );
  e.retryable = false;
  return e;
}

/** Unlocks an info file with a passphrase: the keys, or a one-line error. */
export async function unlockInfo(storage: Storage, info: RepoInfo, passphrase: string | undefined): Promise<RepoKeys | undefined> {
  if (!info.encryption) {
    if (passphrase) {
      throw new UsageError('usage.key', `${storage.location} is not encrypted, but DRCTL_ENCRYPTION_KEY is set: unset it (drctl never stores plaintext when given a key; an encrypted repository is made with drctl repo init --encrypt)`
      );
    }
    return undefined;
  }
  if (!passphrase) throw new OperationError('repo.key', `${storage.location} is encrypted: set DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE`);
  const master = info.format === 1 || 'keyCheck' in info.encryption ? await unlock1(passphrase, info.encryption as KdfParams1) : await unwrapMasterKey(passphrase, info.encryption);
  if (!master) {
    const e = new OperationError('repo.key', `wrong encryption key for ${storage.location}`);
    e.retryable = false;
    throw e;
  }
  return new RepoKeys(master, info.format === 1 || info.upgradedFrom === 1);
}

/**
 * Format 1 to 2 in place: the format-1 key becomes the master key, wrapped by the passphrase.
 * Old objects keep their format-1 framing and names and stay readable; new ones are format 2.
 */
export async function upgradeInfo(info: RepoInfo, passphrase: string | undefined, keys: RepoKeys | undefined): Promise<RepoInfo> {
  const next: RepoInfo = { format: 2, created: info.created, upgradedFrom: 1 };
  if (keys && passphrase) next.encryption = (await wrapMasterKey(passphrase, keys.master)).params;
  return next;
}

/**
 * The main file does not open with this key. When its copy differs and does, say so instead of
 * "wrong key": the main file may be damaged, or the key was changed and this is the old one.
 * The copy is not used by itself: after a key change whose copy was not rewritten, that would
 * let the old key back in.
 */
async function refuseCopyThatOpens(storage: Storage, main: Buffer, passphrase: string | undefined): Promise<void> {
  const copy = await readInfoFile(storage, INFO_COPY_KEY);
  if (!copy || copy.equals(main)) return;
  let opens = false;
  try {
    opens = (await unlockInfo(storage, parseInfo(storage, copy, INFO_COPY_KEY), passphrase)) !== undefined;
  } catch {
    return;
  }
  if (!opens) return;
  const e = new OperationError(
    'repo.key',
    `${storage.location}: ${INFO_KEY} does not open with this key, but ${INFO_COPY_KEY}, which differs from it, does: either ${INFO_KEY} is damaged, or the key was changed and this is the old one. If the key was not changed, replace ${INFO_KEY} with ${INFO_COPY_KEY}`,
  );
  e.retryable = false;
  throw e;
}

async function loadInfo(storage: Storage, passphrase: string | undefined, o: { create: boolean; repairCopy: boolean }, notice: (line: string) => void): Promise<{ info: RepoInfo; keys?: RepoKeys }> {
  const { create } = o;
  let text = await readInfoFile(storage, INFO_KEY);
  let fromCopy = false;
  if (!text) {
    text = await readInfoFile(storage, INFO_COPY_KEY);
    fromCopy = text !== undefined;
  }
  if (!text) {
    if (!create) throw new OperationError('repo.missing', `${storage.location}: not a drctl repository (no ${INFO_KEY}); drctl repo init creates one`);
    if (await holdsData(storage)) throw refuseLostInfo(storage);
    const fresh = await newInfo(passphrase);
    if (await createInfo(storage, fresh.info)) {
      notice(`created repository ${storage.location} (format ${REPO_FORMAT}, ${fresh.keys ? 'encrypted' : 'not encrypted'})`);
      return fresh;
    }
    text = await readSmall(storage, INFO_KEY); // another writer created it first
  }
  let info: RepoInfo;
  let damaged: string | undefined;
  try {
    info = parseInfo(storage, text, fromCopy ? INFO_COPY_KEY : INFO_KEY);
  } catch (err) {
    // A damaged main file (cut short, overwritten): the copy exists for exactly this. Not a
    // format this drctl does not know: that is a newer drctl's file, never to be overwritten.
    if ((err as { code?: string }).code !== 'repo.info') throw err;
    const copy = fromCopy ? undefined : await readInfoFile(storage, INFO_COPY_KEY);
    if (!copy) throw err;
    info = parseInfo(storage, copy, INFO_COPY_KEY);
    fromCopy = true;
    damaged = (err as Error).message.replace(`${storage.location}: `, '');
  }
  let keys: RepoKeys | undefined;
  try {
    keys = await unlockInfo(storage, info, passphrase);
  } catch (err) {
    if ((err as { code?: string }).code === 'repo.key' && !fromCopy && info.encryption) await refuseCopyThatOpens(storage, text, passphrase);
    throw err;
  }
  if (fromCopy && create) {
    await storage.put(INFO_KEY, infoBody(info));
    notice(`${storage.location}: ${damaged ?? `${INFO_KEY} was missing`}; restored it from ${INFO_COPY_KEY}`);
  }
  if (create && info.format === 1) {
    info = await upgradeInfo(info, passphrase, keys);
    await writeInfo(storage, info);
    notice(`${storage.location}: upgraded the repository from format 1 to ${REPO_FORMAT} (format-1 backups and WAL stay readable)`);
  } else if (create && o.repairCopy && !fromCopy && !(await storage.stat(INFO_COPY_KEY))) {
    await storage.put(INFO_COPY_KEY, infoBody(info));
  }
  return { info, keys };
}
