import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { secrets } from '../redact.js';
import type { RepoInfo, RepoHandle } from '../repository/repo-handle.js';
import type { Storage } from '../repository/storage.js';
import { pushWal, verifyPushed, type PushResult } from './wal-archive.js';
import { walFileKind } from './wal-names.js';

// Look-ahead for archive_command. PostgreSQL runs `drctl wal-push %p` once per segment, and each
// run pays a process start, the repository's info read and, when encrypted, the scrypt unlock.
// A run that finds further segments waiting (pg_wal/archive_status/*.ready) pushes up to
// DRCTL_WAL_AHEAD of them (default 8, 0 turns it off) in the same process, DRCTL_WAL_AHEAD_PARALLEL
// at a time (default 2), and the later runs for those segments answer from a marker.
//
// Of the two known designs this follows pgBackRest's asynchronous archive-push (a spool of
// per-segment .ok files that the next call consults), not WAL-G's (which renames PostgreSQL's
// .ready to .done itself): archive_status is PostgreSQL's own record of what is archived, and
// writing it from outside lets a bug or a crash there mark a segment archived that is not.
// Here PostgreSQL still marks every segment itself, after a wal-push that exited 0.
//
// Why a marker cannot lie:
// - It is written (temp file, then rename) only after the object is stored and read back in
//   full: decrypted, decompressed and matched against the hash in its name.
// - It names the repository (location, creation time and key parameters of its info file) and
//   the plaintext's sha256 and size. The later run re-reads the info file, hashes the segment it
//   is given and checks that the object is still there with the size it had: another repository,
//   a segment with other content (a restored or re-initialised cluster reusing a name) or an
//   object removed since all fall through to a normal push.
// - Only complete segments are pushed ahead: a 24-hex-digit name with a .ready file and the
//   size of the segment PostgreSQL handed over (a power of two); never .partial, .history or
//   .backup files, which PostgreSQL archives through their own calls.
// - The spool is pg_wal/drctl-ahead (or DRCTL_WAL_SPOOL): pg_basebackup sends pg_wal empty, so
//   no marker travels into a base backup. A run removes the marker it used and any marker
//   whose segment no longer waits.
// - A look-ahead failure is one line on stderr and no marker: the segment's own run pushes it
//   normally. The exit code is the handed-over segment's alone.

const SEGMENT_READY = /^([0-9A-F]{24})\.ready$/;
const MARKER = '.ok';

export interface AheadSettings {
  max: number;
  parallel: number;
  /** Where the markers live. */
  spool: string;
}

function intFrom(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, lo: number, hi: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError('usage.env', `${name} must be a whole number from ${lo} to ${hi}, not "${v}"`);
  return n;
}

export function aheadSettings(env: Readonly<Record<string, string | undefined>>, file: string): AheadSettings {
  return {
    max: intFrom(env, 'DRCTL_WAL_AHEAD', 8, 0, 64),
    parallel: intFrom(env, 'DRCTL_WAL_AHEAD_PARALLEL', 2, 1, 16),
    spool: env.DRCTL_WAL_SPOOL || path.join(path.dirname(path.resolve(file)), 'drctl-ahead'),
  };
}

/** What binds a marker to one repository; no secret in it (the info file is readable without the key). */
export function repoIdentity(location: string, info: Readonly<RepoInfo>): string {
  return createHash('sha256').update(JSON.stringify([location, info.created, info.encryption ?? null])).digest('hex');
}

interface Marker {
  v: 1;
  name: string;
  repo: string;
  key: string;
  /** The stored object's size. */
  stored: number;
  sha256: string;
  size: number;
}

function markerPath(spool: string, name: string): string {
  return path.join(spool, `${name}${MARKER}`);
}

async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

async function readMarker(spool: string, name: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await readFile(markerPath(spool, name), 'utf8')) as Marker;
    return m.v === 1 && m.name === name ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `file` was pushed ahead into this repository by an earlier run and still is:
 * same repository, same content, object present. The marker is consumed either way.
 */
export async function answeredAhead(storage: Storage, info: Readonly<RepoInfo> | undefined, file: string, spool: string): Promise<boolean> {
  const name = path.basename(file);
  const m = await readMarker(spool, name);
  if (!m) return false;
  let ok = false;
  try {
    if (info && m.repo === repoIdentity(storage.location, info)) {
      const [now, obj] = await Promise.all([sha256File(file), storage.stat(m.key)]);
      ok = now.sha256 === m.sha256 && now.size === m.size && obj?.size === m.stored;
    }
  } catch {
    ok = false;
  }
  await rm(markerPath(spool, name), { force: true });
  return ok;
}

/** A marker only for a complete segment that was stored and read back. */
async function pushAhead(repo: RepoHandle, identity: string, file: string, spool: string): Promise<void> {
  const name = path.basename(file);
  const r = await pushWal(repo, file, { sha256: true });
  // 'already-archived' and 'repaired' were read back by pushWal itself.
  if (r.status === 'archived') await verifyPushed(repo, name, r);
  const obj = await repo.storage.stat(r.key);
  if (!obj) throw new Error(`${r.key} is not there after storing it`);
  const m: Marker = { v: 1, name, repo: identity, key: r.key, stored: obj.size, sha256: r.sha256!, size: r.size };
  await mkdir(spool, { recursive: true, mode: 0o700 });
  const tmp = `${markerPath(spool, name)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(m)}\n`, { mode: 0o600 });
  await rename(tmp, markerPath(spool, name));
}

/** Segments of the same timeline after `name` that wait for the archiver, oldest first. */
async function waiting(file: string, spool: string, max: number): Promise<string[]> {
  const name = path.basename(file);
  const walDir = path.dirname(path.resolve(file));
  let ready: Set<string>;
  try {
    ready = new Set((await readdir(path.join(walDir, 'archive_status'))).map((f) => SEGMENT_READY.exec(f)?.[1]).filter((n): n is string => n !== undefined));
  } catch {
    return []; // not a pg_wal directory: nothing to look ahead at
  }
  let spooled: string[] = [];
  try {
    spooled = await readdir(spool);
  } catch {
    // no spool yet
  }
  const marked = new Set<string>();
  for (const f of spooled) {
    const seg = f.endsWith(MARKER) ? f.slice(0, -MARKER.length) : undefined;
    // A marker whose segment no longer waits was used or is stale; a temp file is a crashed write.
    if (seg !== undefined && (seg === name || ready.has(seg))) marked.add(seg);
    else await rm(path.join(spool, f), { force: true });
  }
  const size = (await stat(file)).size;
  if (size < 1024 * 1024 || size > 1024 * 1024 * 1024 || (size & (size - 1)) !== 0) return [];
  const out: string[] = [];
  for (const seg of [...ready].filter((s) => s > name && s.slice(0, 8) === name.slice(0, 8) && !marked.has(s)).sort()) {
    if (out.length >= max) break;
    const p = path.join(walDir, seg);
    const st = await stat(p).catch(() => undefined);
    if (st?.isFile() && st.size === size) out.push(p);
  }
  return out;
}

/** wal-push of `file`, with look-ahead: the result (or error) is `file`'s alone. */
export async function pushWithLookAhead(repo: RepoHandle, file: string, a: AheadSettings): Promise<PushResult> {
  const ahead = a.max > 0 && walFileKind(path.basename(file)) === 'segment' ? await waiting(file, a.spool, a.max).catch(() => []) : [];
  if (!ahead.length) return pushWal(repo, file);
  const identity = repoIdentity(repo.storage.location, repo.infoFile);
  const own = pushWal(repo, file);
  own.catch(() => {}); // awaited below; the look-ahead must not turn its rejection into a crash
  const queue = [...ahead];
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      try {
        await pushAhead(repo, identity, p, a.spool);
      } catch (err) {
        // A storage error can name a path or URL holding a secret, as any other error line can.
        const why = err instanceof Error ? err.message : String(err);
        process.stderr.write(secrets.redact(`drctl: wal-push: look-ahead of ${path.basename(p)} failed (${why}); its own wal-push will store it\n`));
      }
    }
  };
  // The handed-over segment takes one of the `parallel` slots.
  const workers = Array.from({ length: Math.max(1, a.parallel - 1) }, worker);
  try {
    return await own;
  } catch (err) {
    queue.length = 0; // the segment's own failure is reported now, not after the look-ahead
    throw err;
  } finally {
    await Promise.all(workers);
  }
}
