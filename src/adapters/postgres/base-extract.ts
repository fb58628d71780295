import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { OperationError } from '../../errors.js';
import { childStdinSink, spawnProcess } from '../../process/run-process.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import { progressMeter } from '../progress.js';
import type { ActionContext } from '../types.js';

/** Streams a base backup's tar from the repository, verified as it is read, into a data directory. */
export async function extractBaseBackup(ctx: ActionContext, repo: Repository, m: Manifest, dir: string): Promise<void> {
  const entry = m.objects.find((o) => o.path.split('/').pop() === 'base.tar.gz') ?? m.objects[0];
  if (!entry) throw new OperationError('backup.empty', `backup ${m.id} has no objects`);
  // Nothing of the tar's ownership or setuid/setgid bits survives (GNU tar keeps both by
  // default as root): --no-same-permissions under umask 077 leaves owner-only rwx bits.
  const tarArgs = ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions'];
  const tar = await spawnProcess('/bin/sh', ['-c', 'umask 077 && exec tar "$@"', 'tar', ...tarArgs], { signal: ctx.signal, env: { PATH: ctx.env.PATH }, stdin: 'pipe', stdout: 'ignore' });
  const source = await repo.readObject(m, entry, { signal: ctx.signal });
  try {
    await pipeline(source, progressMeter(ctx, entry.size), createGunzip(), childStdinSink(tar.stdin as NodeJS.WritableStream), { signal: ctx.signal });
  } catch (err) {
    tar.kill();
    await tar.done;
    throw err;
  }
  const r = await tar.done;
  if (r.exitCode !== 0) throw new OperationError('restore.tar', `tar failed extracting ${m.id}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  // An empty pg_wal is not in every tar; the server needs it.
  await mkdir(path.join(dir, 'pg_wal', 'archive_status'), { recursive: true });
}
