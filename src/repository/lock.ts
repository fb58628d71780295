import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../errors.js';
import { pausePoint } from '../testing-faults.js';
import { formatDuration, parseDuration } from '../time/duration.js';
import { ObjectExistsError, ObjectMissingError, readSmall, type Storage } from './storage.js';

// The repository lock, as restic does it: one object naming host, pid, purpose and a random
// token; refreshed while held; stale when not refreshed for STALE_MS, or at once when it was
// taken on this host by a process that no longer exists. Creating it is exclusive (O_EXCL link
// on a file system, If-None-Match on S3) and read back afterwards (for stores that ignore the
// condition); release, refresh and takeover compare the token, so two processes never both
// hold it. Backups and expire take it; wal-push does not.

export const LOCK_KEY = 'locks/repo.lock';
const BREAK_PREFIX = 'locks/break-';
/** A lock not refreshed for this long belongs to a process that is gone. */
export const STALE_MS = 5 * 60_000;
const REFRESH_MS = 60_000;

export interface LockInfo {
  token: string;
  host: string;
  pid: number;
  purpose: string;
  acquiredAt: string;
  refreshedAt: string;
}

/** A lock as found in the repository, also one written by an older drctl (owner + expiry). */
export interface FoundLock {
  raw: string;
  token?: string;
  host?: string;
  pid?: number;
  purpose: string;
  acquiredAt?: string;
  refreshedAt?: string;
  /** Older drctl: a fixed expiry instead of refreshes. */
  expiresAt?: string;
  /** When the object was last written (for unreadable locks). */
  mtime?: Date;
}

export interface LockOptions {
  /** How long to wait for a live lock to go away before failing (0: fail at once). */
  waitMs?: number;
  staleMs?: number;
  refreshMs?: number;
  log?: (line: string) => void;
}

/**
 * Reads the current lock, or undefined when there is none. `written` also asks the store when
 * it was last written, which judging someone else's lock needs (staleReason).
 */
export async function readLock(storage: Storage, o: { written?: boolean } = {}): Promise<FoundLock | undefined> {
  let raw: string;
  try {
    raw = (await readSmall(storage, LOCK_KEY)).toString('utf8');
  } catch (err) {
    if (err instanceof ObjectMissingError) return undefined;
    throw err;
  }
  let found: FoundLock;
  try {
    const j = JSON.parse(raw) as Partial<LockInfo> & { owner?: string; expiresAt?: string };
    if (typeof j.token === 'string') {
      found = { raw, token: j.token, host: j.host, pid: j.pid, purpose: String(j.purpose ?? '?'), acquiredAt: j.acquiredAt, refreshedAt: j.refreshedAt };
    } else {
      const [host, pid] = (j.owner ?? '').split(':');
      found = { raw, host, pid: Number(pid) || undefined, purpose: String(j.purpose ?? '?'), acquiredAt: j.acquiredAt, expiresAt: j.expiresAt };
    }
  } catch {
    found = { raw, purpose: 'unknown (unreadable lock)' };
  }
  // The look-up is one more request per read on S3, and every backup reads its own lock twice:
  // only judging another process's lock, or one with no time of its own, needs it.
  // A failed look-up fails the read: judged without it, a live lock could look stale.
  if (o.written || (!found.refreshedAt && !found.expiresAt)) found.mtime = (await storage.stat(LOCK_KEY))?.mtime;
  return found;
}

/** Who holds a lock, for messages: "host db1 pid 4242 for backup since …". */
export function describeLock(l: FoundLock): string {
  return `host ${l.host ?? '?'} pid ${l.pid ?? '?'} for ${l.purpose}${l.acquiredAt ? ` since ${l.acquiredAt}` : ''}`;
}

/** How far a holder's clock may run ahead of ours before its refresh times are not believed. */
const CLOCK_SLACK_MS = 60_000;

/** Why a lock is stale, or undefined when it is live. */
export function staleReason(l: FoundLock, now = Date.now(), staleMs = STALE_MS): string | undefined {
  if (l.host === os.hostname() && l.pid && !processExists(l.pid)) return `process ${l.pid} on this host is gone`;
  if (l.refreshedAt) {
    // The refresh time is the holder's clock. When the store says when it last wrote the lock,
    // that must agree: a holder whose clock runs slow looks stale by its own stamps while it
    // refreshes every minute, and one whose clock ran ahead (a refresh "in the future") would
    // look live for hours after it died.
    const age = now - Date.parse(l.refreshedAt);
    const written = l.mtime ? now - l.mtime.getTime() : undefined;
    if (age < -CLOCK_SLACK_MS && written !== undefined) {
      return written > staleMs ? `not rewritten for ${formatDuration(written)} (its holder's clock runs ${formatDuration(-age)} ahead)` : undefined;
    }
    if (written !== undefined && written <= staleMs) return undefined;
    return age > staleMs ? `not refreshed for ${formatDuration(age)}` : undefined;
  }
  if (l.expiresAt) return Date.parse(l.expiresAt) <= now ? `expired at ${l.expiresAt}` : undefined;
  // Unreadable: the writer is atomic, so it is damaged, not half-written; judge by its age.
  const age = now - (l.mtime?.getTime() ?? 0);
  return age > staleMs ? `unreadable and ${formatDuration(age)} old` : undefined;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is someone else's.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function lockedError(storage: Storage, l: FoundLock, waitedMs: number): OperationError {
  const refreshed = l.refreshedAt ? `, refreshed ${l.refreshedAt}` : l.expiresAt ? `, expires ${l.expiresAt}` : '';
  const waited = waitedMs > 0 ? ` (waited ${formatDuration(waitedMs)})` : '';
  const e = new OperationError(
    'repo.locked',
    `${storage.location} is locked by ${describeLock(l)}${refreshed}${waited}; it becomes stale ${Math.round(STALE_MS / 60_000)} minutes after its last refresh, or remove it with drctl repo unlock`,
  );
  e.retryable = false;
  return e;
}

/**
 * Removes `l` if it is still the lock in place. Only one process may break a given lock (an
 * exclusive marker named for its content), so two takers cannot remove each other's new lock.
 * True when this call removed it.
 */
export async function breakLock(storage: Storage, l: FoundLock): Promise<boolean> {
  const marker = `${BREAK_PREFIX}${createHash('sha256').update(l.raw).digest('hex').slice(0, 32)}`;
  try {
    await storage.put(marker, Readable.from([Buffer.from(`${os.hostname()}:${process.pid}\n`)]), { ifAbsent: true });
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
    // Another process is breaking it; a marker its breaker left when it died is cleared later.
    const m = await storage.stat(marker);
    if (m && Date.now() - m.mtime.getTime() > STALE_MS) await storage.remove(marker);
    return false;
  }
  try {
    const now = await readLock(storage);
    if (now?.raw !== l.raw) return false;
    await storage.remove(LOCK_KEY);
    return true;
  } finally {
    await storage.remove(marker).catch(() => {});
  }
}

/** A held lock: refreshed in the background until released. */
export class RepoLock {
  private timer?: NodeJS.Timeout;
  private refreshing: Promise<void> = Promise.resolve();
  private lostReason?: string;
  private readonly aborter = new AbortController();

  constructor(
    private readonly storage: Storage,
    readonly info: LockInfo,
    refreshMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.timer = setInterval(() => {
      this.refreshing = this.refreshing.then(() => this.refresh()).catch((err: unknown) => this.log(`warning: could not refresh the repository lock: ${(err as Error).message}`));
    }, refreshMs);
    // The timer never keeps a finished process alive.
    this.timer.unref();
  }

  /** Aborted when the lock was found taken over by another process. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  /**
   * Rewrites the lock with a new refresh time if it is still ours; otherwise marks it lost and
   * aborts `signal`. The timer calls it; a caller may too, before a long step.
   */
  async refresh(): Promise<void> {
    if (this.lostReason) return;
    let now = await readLock(this.storage);
    // Some stores answer 404 for an object being replaced: look twice before giving up.
    if (now?.token !== this.info.token) now = await sleep(100).then(() => readLock(this.storage));
    if (now?.token !== this.info.token) {
      this.lostReason = now ? `taken over by ${describeLock(now)}` : 'removed by someone else';
      clearInterval(this.timer);
      this.log(`warning: the repository lock was ${this.lostReason}`);
      this.aborter.abort(new OperationError('repo.lockLost', `${this.storage.location}: the repository lock was ${this.lostReason}`));
      return;
    }
    this.info.refreshedAt = new Date().toISOString();
    await this.storage.put(LOCK_KEY, lockBody(this.info));
  }

  private checkedAt = 0;

  /**
   * Throws when the lock is no longer ours, looking again at most every few seconds: called
   * before a manifest is written or a backup removed, so a process whose lock was taken over
   * (it stalled past the stale time, and another took it) never commits or deletes under it.
   */
  async assertHeld(what: string): Promise<void> {
    if (!this.lostReason && Date.now() - this.checkedAt > 5_000) {
      await this.refresh();
      this.checkedAt = Date.now();
    }
    if (this.lostReason) {
      const e = new OperationError('repo.lockLost', `${this.storage.location}: the repository lock was ${this.lostReason}: stopped before ${what}`);
      e.retryable = false;
      throw e;
    }
  }

  /** Stops refreshing and removes the lock if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    if (this.lostReason) return;
    const now = await readLock(this.storage).catch(() => undefined);
    if (now?.token === this.info.token) await this.storage.remove(LOCK_KEY).catch(() => {});
  }
}

function lockBody(info: LockInfo): Readable {
  return Readable.from([Buffer.from(`${JSON.stringify(info)}\n`)]);
}

/**
 * Takes the repository lock for `purpose`. A stale lock is taken over (and said so); a live one
 * is waited for up to `waitMs`, then fails naming its holder's host, pid and purpose.
 */
export async function acquireLock(storage: Storage, purpose: string, o: LockOptions = {}): Promise<RepoLock> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const staleMs = o.staleMs ?? STALE_MS;
  const started = Date.now();
  const deadline = started + (o.waitMs ?? 0);
  let said = false;
  let delay = 100;
  for (let attempt = 0; ; attempt++) {
    const now = new Date().toISOString();
    const info: LockInfo = { token: randomBytes(16).toString('hex'), host: os.hostname(), pid: process.pid, purpose, acquiredAt: now, refreshedAt: now };
    let created = false;
    try {
      await storage.put(LOCK_KEY, lockBody(info), { ifAbsent: true });
      created = true;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
    const held = await readLock(storage);
    if (created && held?.token === info.token) {
      const lock = new RepoLock(storage, info, o.refreshMs ?? REFRESH_MS, log);
      await pausePoint('lock-acquired');
      return lock;
    }
    // Not ours: absent again (released meanwhile), or someone else's.
    if (held) {
      // Not caught: without the store's write time a live lock could be judged by a slow clock.
      held.mtime ??= (await storage.stat(LOCK_KEY))?.mtime;
      const stale = staleReason(held, Date.now(), staleMs);
      if (stale && (await breakLock(storage, held))) {
        log(`took over a stale repository lock (${describeLock(held)}): ${stale}`);
        continue;
      }
      if (stale && attempt > 50) throw new OperationError('repo.locked', `${storage.location}: could not take over the stale lock of ${describeLock(held)}`);
      if (!stale && Date.now() >= deadline) throw lockedError(storage, held, Date.now() - started);
      if (!stale && !said) log(`waiting up to ${formatDuration(deadline - Date.now())} for the repository lock held by ${describeLock(held)}`);
      said ||= !stale;
    } else if (attempt > 50) {
      throw new OperationError('repo.locked', `${storage.location}: could not take the repository lock (it keeps changing hands)`);
    }
    await sleep(Math.max(0, Math.min(delay, deadline - Date.now())) + Math.floor(Math.random() * 50));
    delay = Math.min(delay * 2, 5_000);
  }
}

/** DRCTL_LOCK_WAIT (a duration such as 10m): how long a backup waits for a live lock; default 0. */
export async function lockWaitMs(env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const v = env.DRCTL_LOCK_WAIT;
  if (!v) return 0;
  return parseDuration(v, 'DRCTL_LOCK_WAIT');
}
