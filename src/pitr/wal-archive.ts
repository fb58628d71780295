import { createHash, type Hash, type Hmac } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, OperationError, UsageError } from '../errors.js';
import { CODEC_SUFFIX, codecOfSuffix, compressor, decompressor, type Codec, type Compression } from '../repository/compress.js';
import { DecryptError } from '../repository/crypto.js';
import { chain, VerifyingStream } from '../repository/hashing.js';
import type { RepoHandle } from '../repository/repo-handle.js';
import { ObjectExistsError, type ObjectInfo } from '../repository/storage.js';
import { historyFileName, parseHistory, timelineOf, walFileKind, type WalObject, type Ancestry, ancestry } from './wal-names.js';

// Archived WAL, format 2: wal/<timeline>/<file name>-<hash>.<zst|gz|raw>. The hash is the
// sha256 of the plaintext, or in an encrypted repository an HMAC-SHA256 of it under a key
// derived from the master key (the name must not let anyone test a guess of the content).
// The suffix names the codec. Format 1 wrote wal/<timeline>/<file name>-<sha256>, uncompressed
// (encrypted with the one format-1 key); those stay readable. The checksum in the name (as
// pgBackRest does) makes every object self-verifying and means an object is never
// overwritten, except a provably bad one by a verified good one.

function dirOf(name: string): string {
  return `wal/${name.slice(0, 8)}/`;
}

function parseKey(o: ObjectInfo): WalObject | undefined {
  const base = o.key.slice(o.key.lastIndexOf('/') + 1);
  const m = /^(.+)-([0-9a-f]{64})(?:\.([a-z]+))?$/.exec(base);
  if (!m || !walFileKind(m[1]!)) return undefined;
  if (m[3] === undefined) return { name: m[1]!, hash: m[2]!, codec: 'none', format: 1, key: o.key, size: o.size, mtime: o.mtime };
  const codec = codecOfSuffix(m[3]);
  if (!codec) return undefined;
  return { name: m[1]!, hash: m[2]!, codec, format: 2, key: o.key, size: o.size, mtime: o.mtime };
}

/** Every archived WAL file (all timelines, or one), sorted by name. */
export async function listWal(repo: RepoHandle, timeline?: number): Promise<WalObject[]> {
  const prefix = timeline === undefined ? 'wal/' : `wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}/`;
  const out: WalObject[] = [];
  for (const o of await repo.storage.list(prefix)) {
    const w = parseKey(o);
    if (w) out.push(w);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function findWal(repo: RepoHandle, name: string): Promise<WalObject[]> {
  return (await repo.storage.list(`${dirOf(name)}${name}-`)).map(parseKey).filter((w): w is WalObject => w?.name === name);
}

/** The hash a format-2 name carries (sha256, or the keyed hash when encrypted). */
function nameHasher(repo: RepoHandle): Hash | Hmac {
  return repo.keys ? repo.keys.walHasher() : createHash('sha256');
}

/** The digests of a local file: the name hash, and plain sha256 when format-1 objects need it. */
async function digestFile(repo: RepoHandle, file: string, withSha256: boolean): Promise<{ hash: string; sha256?: string; size: number }> {
  const named = nameHasher(repo);
  const plain = withSha256 && repo.keys ? createHash('sha256') : undefined;
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    named.update(chunk as Buffer);
    plain?.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const hash = named.digest('hex');
  return { hash, sha256: plain ? plain.digest('hex') : withSha256 ? hash : undefined, size };
}

export type PushResult = {
  status: 'archived' | 'already-archived' | 'repaired';
  key: string;
  size: number;
  /** The plaintext's sha256, when asked for. */
  sha256?: string;
};

function conflict(repo: RepoHandle, name: string, theirs: string, ours: string): OperationError {
  const e = new OperationError(
    'wal.conflict',
    `wal-push: ${name} is already archived in ${repo.storage.location} with different content (${theirs.slice(0, 12)}…, this file ${ours.slice(0, 12)}…); refusing to overwrite. Two clusters archiving into one repository?`,
  );
  e.retryable = false;
  return e;
}

/** Reads an archived object to its end: its size, or the reason it does not match its name. */
async function check(repo: RepoHandle, w: WalObject): Promise<{ ok: true; size: number } | { ok: false; problem: string }> {
  let size = 0;
  try {
    for await (const c of await readWal(repo, w)) size += (c as Buffer).length;
    return { ok: true, size };
  } catch (err) {
    if (err instanceof IntegrityError) return { ok: false, problem: err.message };
    throw err;
  }
}

/**
 * archive_command: stores one WAL file. An object already under this name counts only once it
 * is read back and matches (size and hash after decryption and decompression); a provably bad
 * one is replaced: the new object is written and verified first, then the bad one removed.
 * Different, intact content under the same name fails.
 */
export async function pushWal(repo: RepoHandle, file: string, o: { compression?: Compression; sha256?: boolean } = {}): Promise<PushResult> {
  const name = path.basename(file);
  if (!walFileKind(name)) throw new UsageError('usage.wal', `wal-push ${file}: "${name}" is not a WAL segment, .partial, .history or .backup file`);
  const unreadable = (err: unknown) =>
    new OperationError('wal.read', `wal-push: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  const compression = o.compression ?? repo.compression;
  const existing = await findWal(repo, name);
  let sum: { hash: string; sha256?: string; size: number };
  try {
    sum = await digestFile(repo, file, o.sha256 === true || existing.some((e) => e.format === 1));
  } catch (err) {
    throw unreadable(err);
  }
  const bad: WalObject[] = [];
  for (const e of existing) {
    const ours = e.format === 1 ? sum.sha256! : sum.hash;
    const r = await check(repo, e);
    if (!r.ok) {
      bad.push(e);
      continue;
    }
    if (e.hash !== ours) throw conflict(repo, name, e.hash, ours);
    if (r.size === sum.size) return { status: 'already-archived', key: e.key, size: sum.size, sha256: sum.sha256 };
    bad.push(e);
  }
  const key = `${dirOf(name)}${name}-${sum.hash}.${CODEC_SUFFIX[compression.codec]}`;
  const replacing = bad.some((b) => b.key === key);
  const stages: Transform[] = [];
  const packer = await compressor(compression);
  if (packer) stages.push(packer);
  if (repo.keys) stages.push(repo.keys.encryptStream(name));
  const body = createReadStream(file, { highWaterMark: 1024 * 1024 });
  body.on('error', () => {});
  try {
    // A bad object under the same key is replaced by an atomic overwrite (temp + rename, or one
    // PUT), so readers see the old bad object or the new good one, never a mix.
    // Stored as is, the bytes are known: the driver checks them before the object is visible.
    const expect = stages.length ? undefined : { size: sum.size, sha256: sum.hash };
    await repo.storage.put(key, chain(body, stages), { ifAbsent: !replacing, listedAbsent: !existing.some((e) => e.key === key), expect });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === file) throw unreadable(err);
    if (!(err instanceof ObjectExistsError)) throw err;
    // Another pusher stored it meanwhile: it counts once it reads back right.
    if (!bad.length) {
      const done: PushResult = { status: 'already-archived', key, size: sum.size, sha256: sum.sha256 };
      await verifyPushed(repo, name, done);
      return done;
    }
  }
  if (!bad.length && !replacing) return { status: 'archived', key, size: sum.size, sha256: sum.sha256 };
  const stored = (await findWal(repo, name)).find((w) => w.key === key);
  const r = stored ? await check(repo, stored) : { ok: false as const, problem: 'not found after writing it' };
  if (!r.ok || r.size !== sum.size) throw new IntegrityError(`wal-push: ${name}: the replacement does not read back right (${r.ok ? `${r.size} bytes` : r.problem}); the old object is kept`);
  for (const b of bad) if (b.key !== key) await repo.storage.remove(b.key);
  process.stderr.write(`drctl: wal-push: replaced ${bad.map((b) => b.key).join(', ')} (did not match its name) with a verified copy\n`);
  return { status: 'repaired', key, size: sum.size, sha256: sum.sha256 };
}

/** Reads a pushed object back in full (decrypted, decompressed, hash and size checked), or throws. */
export async function verifyPushed(repo: RepoHandle, name: string, r: PushResult): Promise<void> {
  const stored = (await findWal(repo, name)).find((w) => w.key === r.key);
  const v = stored ? await check(repo, stored) : { ok: false as const, problem: `${r.key} is not there` };
  if (!v.ok || v.size !== r.size) throw new IntegrityError(`wal-push: ${name} does not read back right (${v.ok ? `${v.size} of ${r.size} bytes` : v.problem})`);
}

/** The verified plaintext of one archived WAL file. */
export async function readWal(repo: RepoHandle, w: WalObject, signal?: AbortSignal): Promise<Readable> {
  const fail = (detail: string) => new IntegrityError(`WAL ${w.name} (${w.key}): ${detail}`);
  const raw = await repo.storage.get(w.key, { signal });
  const stages: Transform[] = [];
  // Format-1 objects carry no identity; format-2 ones are bound to their WAL file name.
  if (repo.keys) stages.push(repo.keys.decryptStream(w.name));
  const unpack = await decompressor(w.codec);
  if (unpack) stages.push(unpack);
  // The listed size is the stored size: the hash in the name decides.
  stages.push(new VerifyingStream({ sha256: w.hash }, fail, w.format === 2 ? nameHasher(repo) : createHash('sha256')));
  return chain(raw, stages, (e) => fail(e instanceof DecryptError ? e.message : `cannot be decompressed (${w.codec}: ${e.message})`));
}

/**
 * Fetches an archived WAL file to `dest` (temp name, then rename), readable by its owner only
 * as PostgreSQL keeps WAL; false when it is not archived.
 */
export async function fetchWal(repo: RepoHandle, name: string, dest: string, signal?: AbortSignal): Promise<boolean> {
  const found = (await findWal(repo, name)).sort((a, b) => b.format - a.format);
  if (!found.length) return false;
  const hashes = new Set(found.filter((f) => f.format === found[0]!.format).map((f) => f.hash));
  if (hashes.size > 1) {
    throw new IntegrityError(`WAL ${name} is archived twice with different content (${[...hashes].map((h) => h.slice(0, 12)).join(', ')}); refusing to guess`);
  }
  const tmp = `${dest}.drctl-tmp`;
  let last: unknown;
  // Copies of one content (a left-over after a repair, another codec): the first that verifies.
  for (const w of found) {
    try {
      await pipeline(await readWal(repo, w, signal), createWriteStream(tmp, { mode: 0o600 }), { signal });
      await rename(tmp, dest);
      return true;
    } catch (err) {
      await rm(tmp, { force: true });
      if (!(err instanceof IntegrityError)) throw err;
      last = err;
    }
  }
  throw last;
}

/**
 * The timeline to recover along (the requested one, else the newest in the archive, else
 * `fallback`) and its ancestry from its history file.
 */
export async function recoveryTimeline(
  repo: RepoHandle,
  wal: WalObject[],
  o: { requested?: number; fallback: number; signal?: AbortSignal },
): Promise<{ timeline: number; anc: Ancestry }> {
  const timelines = [...new Set(wal.map((w) => timelineOf(w.name)))].sort((a, b) => a - b);
  const timeline = o.requested ?? timelines[timelines.length - 1] ?? o.fallback;
  const history = wal.find((w) => w.name === historyFileName(timeline));
  if (!history) return { timeline, anc: ancestry([]) };
  let text = '';
  for await (const c of await readWal(repo, history, o.signal)) text += (c as Buffer).toString('utf8');
  return { timeline, anc: ancestry(parseHistory(text)) };
}
