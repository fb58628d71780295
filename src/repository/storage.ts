import type { Readable } from 'node:stream';
import { IntegrityError, OperationError } from '../errors.js';

// The one small interface every storage driver implements (pgBackRest's StorageInterface in
// spirit). Keys are relative, '/'-separated. Writes are atomic: a reader sees the whole object
// or nothing, never a prefix of it.

export interface ObjectInfo {
  key: string;
  size: number;
  mtime: Date;
}

export interface PutOptions {
  signal?: AbortSignal;
  /** Fail instead of overwriting an existing object (lock files, WAL). */
  ifAbsent?: boolean;
  /**
   * With ifAbsent: the caller has just listed the key as absent, so a store that can write
   * conditionally need not be asked first (one round trip per WAL segment on S3). Only for
   * content-addressed keys, where a store that ignores the condition overwrites an object with
   * the same bytes.
   */
  listedAbsent?: boolean;
  /** Called as bytes are accepted, for progress output. */
  onBytes?: (bytes: number) => void;
  /**
   * What the stored bytes must be, when the caller knows: checked after the last byte landed
   * and before the object becomes visible, so a mismatch never becomes an object.
   */
  expect?: { size?: number; sha256?: string };
}

export interface Storage {
  /** Where it points, for messages (never with credentials). */
  readonly location: string;
  /**
   * Streams `body` to `key`; atomic. Every byte is checked to have landed (count, and the
   * stored size, or the store's own check of a single upload's Content-MD5) before the object
   * becomes visible; a full disk rejects with DiskFullError and
   * leaves nothing behind. Rejects with ObjectExistsError when ifAbsent and present.
   */
  put(key: string, body: Readable, o?: PutOptions): Promise<void>;
  /** A stream of the object, or ObjectMissingError. */
  get(key: string, o?: { signal?: AbortSignal }): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under a prefix (recursive). */
  list(prefix: string): Promise<ObjectInfo[]>;
  remove(key: string): Promise<void>;
  /**
   * Optional capability: copy a local file in one pass while hashing it, then store it under
   * the key `keyFor(sha256)` unless that exists. Used by wal-push, which runs per segment.
   * The object becomes visible only once all `size` bytes are stored and synced; `existed`
   * says an object of that key was there already (its content is not checked here).
   */
  importFile?(localPath: string, keyFor: (sha256: string) => string): Promise<{ key: string; sha256: string; size: number; existed: boolean }>;
  /**
   * Optional capability, for stores with directories: the empty directories under `prefix` not
   * changed since `before` (a writer killed between making its directory and opening its file
   * leaves one; listings show only objects), removed too when `remove`.
   */
  emptyDirs?(prefix: string, before: Date, remove: boolean): Promise<string[]>;
}

export class ObjectExistsError extends Error {
  constructor(readonly key: string) {
    super(`${key} already exists`);
  }
}

export class ObjectMissingError extends Error {
  constructor(readonly key: string) {
    super(`${key} does not exist`);
  }
}

/** The repository's disk (or quota) is full: one line with what was needed and what is free. */
export class DiskFullError extends OperationError {
  constructor(where: string, needed: number | undefined, free: number | undefined, atLeast = false) {
    const need = needed === undefined ? 'more space needed' : `${atLeast ? 'at least ' : ''}${needed} bytes needed`;
    super('repo.diskFull', `repository disk full: ${need}, ${free === undefined ? 'unknown' : free} free (${where})`);
    // Retrying at once cannot help; the operator has to make room.
    this.retryable = false;
  }
}

/** The stored object is not what was sent (a short write, a store that lost bytes). */
export function storedMismatch(where: string, key: string, detail: string): IntegrityError {
  return new IntegrityError(`${where}: writing ${key}: ${detail}; the object was not stored`);
}

/** Reads a small object whole (manifests, lock files). */
export async function readSmall(storage: Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
