import { existsSync, watch, type FSWatcher } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../errors.js';
import { fileOwner, type Owner } from './owner.js';
import { runToolAs, spawnToolAs } from './tools.js';

// The one place that creates, starts, asks and stops a PostgreSQL cluster on a data directory,
// always as the directory's owner (as root; as ourselves otherwise). Restores, test restores
// and scratch servers all go through here.

/** What cluster control needs: the caller's environment (for PATH, PG_BIN) and its signal. */
export interface ClusterEnv {
  env: Readonly<Record<string, string | undefined>>;
  signal: AbortSignal;
}

export type StopMode = 'smart' | 'fast' | 'immediate';

function lastLine(stderr: string): string {
  return stderr.trim().split('\n').pop() ?? '';
}

/** initdb as `owner`; `code` names the failure. */
export async function initCluster(c: ClusterEnv, owner: Owner | undefined, args: string[], code: string): Promise<void> {
  const r = await runToolAs(owner, 'initdb', args, c);
  if (r.exitCode !== 0) throw new OperationError(code, `initdb failed: ${lastLine(r.stderr)}`);
}

/**
 * pg_ctl start as the data directory's owner, the server's output going to `log`. Resolves when
 * pg_ctl returns: at once, or with `wait`, once the server accepts connections.
 */
export async function startCluster(c: ClusterEnv, dataDir: string, o: { log: string; code: string; wait?: { timeoutS: number }; serverOptions?: string }): Promise<void> {
  const args = ['-D', dataDir, '-l', o.log];
  if (o.serverOptions) args.push('-o', o.serverOptions);
  // pg_ctl waits by default (60 s, then fails), and a recovering server is not "started" until
  // it is consistent: a caller that follows the log itself must not be held up, nor failed with
  // "Examine the log output" when that log says what went wrong.
  if (o.wait) args.push('-w', '-t', String(o.wait.timeoutS));
  else args.push('-W');
  args.push('start');
  const started = await spawnToolAs(fileOwner(path.join(dataDir, 'PG_VERSION')), 'pg_ctl', args, { ...c, stdout: 'ignore' });
  const r = await started.done;
  if (r.exitCode !== 0) throw new OperationError(o.code, `pg_ctl start failed: ${lastLine(r.stderr)}`);
}

/** Stops a server running on a data directory, as the directory's owner; false when none runs. */
export async function stopCluster(c: ClusterEnv, dir: string, mode: StopMode = 'fast'): Promise<boolean> {
  if (!existsSync(path.join(dir, 'postmaster.pid'))) return false;
  const r = await spawnToolAs(fileOwner(path.join(dir, 'PG_VERSION')), 'pg_ctl', ['-D', dir, '-m', mode, '-w', 'stop'], { ...c, stdout: 'ignore' });
  const done = await r.done;
  if (done.exitCode !== 0) throw new OperationError('postgres.stop', `pg_ctl stop failed: ${lastLine(done.stderr)}`);
  return true;
}

/** A setting as a server on this data directory would see it (postgres -C); undefined when it cannot say. */
export async function showSetting(c: ClusterEnv, dir: string, owner: Owner | undefined, name: string): Promise<string | undefined> {
  const r = await runToolAs(owner, 'postgres', ['-D', dir, '-C', name], c);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/**
 * The cluster state its control file records (pg_controldata: "in production", "in archive
 * recovery", "shut down", ...), undefined when unreadable. Independent of any log: PostgreSQL
 * records "in production" when recovery has ended, before it accepts connections.
 */
export async function clusterState(c: ClusterEnv, dir: string): Promise<string | undefined> {
  const r = await runToolAs(fileOwner(path.join(dir, 'PG_VERSION')), 'pg_controldata', ['-D', dir], c);
  if (r.exitCode !== 0) return undefined;
  return /^Database cluster state:\s+(.+)$/m.exec(r.stdout)?.[1]?.trim();
}

/** Whether a server runs on a data directory (pg_ctl status), whatever postmaster.pid says. */
export async function serverRunning(c: ClusterEnv, dir: string): Promise<boolean> {
  const r = await runToolAs(fileOwner(path.join(dir, 'PG_VERSION')), 'pg_ctl', ['-D', dir, 'status'], c);
  return r.exitCode === 0;
}

/** What a log follower does besides reading: show progress, notice a server that is gone. */
export interface WatchOptions<T> {
  /** Sees the newest line on each read. */
  onLine?: (line: string) => void;
  /**
   * A server killed outright (SIGKILL, the kernel's OOM killer) writes nothing more to its log:
   * without this, the follower would wait for its deadline. Once `running` says no twice in a
   * row, the log is read one last time; when `decide` still has nothing, `verdict` decides.
   */
  ended?: { running: () => Promise<boolean>; verdict: (text: string) => T };
}

/** How often a follower asks whether the server is still there. */
const ALIVE_EVERY_MS = 1000;

/**
 * Follows a server log until `decide` returns a verdict for the text so far, the server is gone
 * (`o.ended`), the signal aborts, or the deadline passes (then undefined).
 */
export async function watchLog<T>(c: { signal: AbortSignal }, log: string, deadline: number, decide: (text: string) => T | undefined, o: WatchOptions<T> = {}): Promise<T | undefined> {
  let offset = 0;
  let text = '';
  const read = async () => {
    text += await readFrom(log, offset);
    offset = Buffer.byteLength(text);
    return decide(text);
  };
  let askedAt = Date.now();
  let goneOnce = false;
  const waker = logWaker(log);
  try {
    while (Date.now() < deadline) {
      c.signal.throwIfAborted();
      const verdict = await read();
      if (verdict !== undefined) return verdict;
      o.onLine?.(text.trim().split('\n').pop() ?? '');
      if (o.ended && Date.now() - askedAt >= ALIVE_EVERY_MS) {
        askedAt = Date.now();
        const gone = !(await o.ended.running());
        if (gone && goneOnce) return (await read()) ?? o.ended.verdict(text);
        goneOnce = gone;
      }
      await waker.wait(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), c.signal);
    }
  } finally {
    waker.close();
  }
  return undefined;
}

/**
 * A probe of whether the postmaster started on `dir` still runs, by the pid in its
 * postmaster.pid. pg_ctl -W returns before the postmaster writes that file: until it appears,
 * the server counts as starting for `graceMs`. Once seen, a missing file means the postmaster
 * ended (it removes the file on a clean exit). Where drctl cannot read the file or signal the
 * process (another user's), it cannot tell, and says running.
 */
export function postmasterProbe(dir: string, graceMs = 30_000): () => Promise<boolean> {
  const since = Date.now();
  let seen = false;
  return async () => {
    let first: string;
    try {
      first = (await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return true;
      return !seen && Date.now() - since < graceMs;
    }
    const pid = Number.parseInt(first, 10);
    if (!(pid > 0)) return true; // being written
    seen = true;
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
}

/** The longest wait between two reads of the log, when no change was notified. */
const POLL_MS = 200;
/** The shortest: changes closer together are read together. */
const MIN_GAP_MS = 100;

/**
 * Wakes the follower when the log changes (inotify, through fs.watch on its directory: the
 * file may not exist yet), so "ready to accept connections" is seen when it is written rather
 * than up to a poll interval later; a restore's time is measured to that line. Polling stays
 * as the fallback: a watch can fail (no inotify, a network filesystem) or miss events.
 */
function logWaker(file: string): { wait(ms: number, signal: AbortSignal): Promise<void>; close(): void } {
  let changed = false;
  let notify: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== path.basename(file)) return;
      changed = true;
      notify?.();
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    // polling alone
  }
  return {
    wait(ms, signal) {
      // A chatty log (a long replay) would otherwise be re-read and re-matched on every write.
      if (changed) {
        changed = false;
        return sleep(MIN_GAP_MS, undefined, { signal });
      }
      return new Promise<void>((resolve, reject) => {
        const finish = (err?: unknown) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          notify = undefined;
          changed = false;
          if (err === undefined) resolve();
          else reject(err);
        };
        const onAbort = () => finish(signal.reason);
        const timer = setTimeout(() => finish(), ms);
        notify = () => finish();
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    close() {
      watcher?.close();
    },
  };
}

async function readFrom(file: string, offset: number): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      if (size <= offset) return '';
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
