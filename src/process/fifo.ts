import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from './find-on-path.js';
import { runProcess } from './run-process.js';

// A named pipe between two child processes (pg_dump writing, zstd reading). Node's own stdio
// pipes are socketpairs: a 513 MB dump cost ~0.17 s more system time through one than through
// a pipe, on a backup bound by the CPU of two cores. The FIFO is made in a private directory
// (0700) and removed once both ends are open, so no other process can open it.

export interface Fifo {
  path: string;
  remove(): Promise<void>;
}

/** A new FIFO, or undefined where `mkfifo` is not on PATH (then a stdio pipe does). */
export async function makeFifo(env: Readonly<Record<string, string | undefined>>, signal: AbortSignal): Promise<Fifo | undefined> {
  const mkfifo = await findOnPath('mkfifo', env);
  if (!mkfifo) return undefined;
  // A temp directory that cannot be made (read-only, full) leaves the stdio pipe.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drctl-pipe-')).catch(() => undefined);
  if (!dir) return undefined;
  const remove = () => rm(dir, { recursive: true, force: true });
  const fifo = path.join(dir, 'pipe');
  const r = await runProcess(mkfifo, ['-m', '600', fifo], { signal, env: { PATH: env.PATH } }).catch(() => undefined);
  if (r?.exitCode !== 0) {
    await remove();
    return undefined;
  }
  return { path: fifo, remove };
}

/**
 * Opens the FIFO's write end, which waits until the reader has opened its end; undefined when
 * the reader exited first (its exit status says why).
 */
export async function openWriteEnd(fifo: string, readerExited: Promise<unknown>): Promise<FileHandle | undefined> {
  const opening = open(fifo, constants.O_WRONLY);
  const first = await Promise.race([opening, readerExited.then(() => undefined)]);
  if (first) return first;
  // The open still waits for a reader: be that reader, so that it returns, then close both.
  const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  await (await opening).close();
  await reader.close();
  return undefined;
}
