import type { Readable } from 'node:stream';

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
  /** Called as bytes are accepted, for progress output. */
  onBytes?: (bytes: number) => void;
}

export interface Storage {
  /** Where it points, for messages (never with credentials). */
  readonly location: string;
  /** Streams `body` to `key`; atomic. Rejects with ObjectExistsError when ifAbsent and present. */
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
   */
  importFile?(localPath: string, keyFor: (sha256: string) => string): Promise<{ key: string; sha256: string; size: number; existed: boolean }>;
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

/** Reads a small object whole (manifests, lock files). */
export async function readSmall(storage: Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
