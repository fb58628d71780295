import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, OperationError, UsageError } from '../errors.js';
import { decryptStream, encryptStream } from '../repository/crypto.js';
import { VerifyingStream } from '../repository/hashing.js';
import type { RepoHandle } from '../repository/repo-handle.js';
import type { ObjectInfo } from '../repository/storage.js';
import { historyFileName, parseHistory, timelineOf, walFileKind } from './wal-names.js';
import { ancestry, type Ancestry } from './select.js';

// Archived WAL: wal/<timeline>/<file name>-<sha256 of the plaintext>. The checksum in the
// name (as pgBackRest does) makes every object self-verifying, lets a listing alone answer
// "is it there and is it the same", and means an object is never overwritten.

export interface WalObject {
  name: string;
  sha256: string;
  key: string;
  size: number;
  mtime: Date;
}

function dirOf(name: string): string {
  return `wal/${name.slice(0, 8)}/`;
}

function parseKey(o: ObjectInfo): WalObject | undefined {
  const base = o.key.slice(o.key.lastIndexOf('/') + 1);
  const dash = base.lastIndexOf('-');
  if (dash < 0) return undefined;
  const name = base.slice(0, dash);
  const sha256 = base.slice(dash + 1);
  if (!walFileKind(name) || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { name, sha256, key: o.key, size: o.size, mtime: o.mtime };
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

async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

export type PushResult = { status: 'archived' | 'already-archived'; key: string; size: number };

function conflict(repo: RepoHandle, name: string, theirs: string, ours: string): OperationError {
  const e = new OperationError(
    'wal.conflict',
    `wal-push: ${name} is already archived in ${repo.storage.location} with different content (sha256 ${theirs.slice(0, 12)}…, this file ${ours.slice(0, 12)}…); refusing to overwrite. Two clusters archiving into one repository?`,
  );
  e.retryable = false;
  return e;
}

/** archive_command: stores one WAL file; identical re-push succeeds, different content fails. */
export async function pushWal(repo: RepoHandle, file: string): Promise<PushResult> {
  const name = path.basename(file);
  if (!walFileKind(name)) throw new UsageError(`wal-push ${file}: "${name}" is not a WAL segment, .partial, .history or .backup file`, 'usage.wal');
  const unreadable = (err: unknown) =>
    new OperationError('wal.read', `wal-push: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);

  // Fast path (file repository, no encryption): one pass that copies, hashes and names.
  if (!repo.key && repo.storage.importFile) {
    const [existing, imported] = await Promise.all([
      findWal(repo, name),
      repo.storage.importFile(file, (sha) => `${dirOf(name)}${name}-${sha}`).catch((err: unknown) => {
        throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? unreadable(err) : err;
      }),
    ]);
    const other = existing.find((e) => e.sha256 !== imported.sha256);
    if (other && !imported.existed) {
      await repo.storage.remove(imported.key);
      throw conflict(repo, name, other.sha256, imported.sha256);
    }
    return { status: imported.existed ? 'already-archived' : 'archived', key: imported.key, size: imported.size };
  }

  let sum: { sha256: string; size: number };
  try {
    sum = await sha256File(file);
  } catch (err) {
    throw unreadable(err);
  }
  const existing = await findWal(repo, name);
  const same = existing.find((e) => e.sha256 === sum.sha256);
  if (same) return { status: 'already-archived', key: same.key, size: sum.size };
  if (existing.length) throw conflict(repo, name, existing[0]!.sha256, sum.sha256);
  const key = `${dirOf(name)}${name}-${sum.sha256}`;
  let body: Readable = createReadStream(file, { highWaterMark: 1024 * 1024 });
  if (repo.key) body = body.pipe(encryptStream(repo.key));
  await repo.storage.put(key, body, { ifAbsent: true });
  return { status: 'archived', key, size: sum.size };
}

/** The verified plaintext of one archived WAL file. */
export async function readWal(repo: RepoHandle, w: WalObject, signal?: AbortSignal): Promise<Readable> {
  const fail = (detail: string) => new IntegrityError(`WAL ${w.name} (${w.key}): ${detail}`);
  const raw = await repo.storage.get(w.key, { signal });
  // The listed size is the stored (maybe encrypted) size: the checksum in the name decides.
  const verify = new VerifyingStream({ sha256: w.sha256 }, fail);
  if (!repo.key) {
    raw.on('error', (e) => verify.destroy(e));
    return raw.pipe(verify);
  }
  const dec = decryptStream(repo.key);
  raw.on('error', (e) => dec.destroy(e));
  dec.on('error', (e) => verify.destroy(fail((e as Error).message)));
  return raw.pipe(dec).pipe(verify);
}

/** Fetches an archived WAL file to `dest` (temp name, then rename); false when it is not archived. */
export async function fetchWal(repo: RepoHandle, name: string, dest: string, signal?: AbortSignal): Promise<boolean> {
  const found = await findWal(repo, name);
  if (!found.length) return false;
  if (found.length > 1) {
    throw new IntegrityError(`WAL ${name} is archived twice with different content (${found.map((f) => f.sha256.slice(0, 12)).join(', ')}); refusing to guess`);
  }
  const tmp = `${dest}.drctl-tmp`;
  try {
    await pipeline(await readWal(repo, found[0]!, signal), createWriteStream(tmp), { signal });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return true;
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
