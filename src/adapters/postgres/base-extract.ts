import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationError } from '../../errors.js';
import { childStdinSink, runProcess, spawnProcess } from '../../process/run-process.js';
import { decompressor } from '../../repository/compress.js';
import type { Manifest, ObjectEntry } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext } from '../types.js';
import { findZstd } from '../../repository/compress.js';
import { findOnPath } from '../../process/find-on-path.js';
import { RECOVERY_LOG, STANDBY_LOG } from './server-log.js';
import { SPOOL } from './wal-prefetch.js';

// A base backup is one tar (gzip: format 1 and early format 2) or N zstd tar parts split at
// member boundaries. Each part is read from the repository (sha256 checked as it is read; a
// mismatch ends the stream before its last chunk reaches tar) into its own tar process; the
// parts are extracted in parallel.
// bsdtar (libarchive) is used when installed: it decompresses zstd and gzip inside its own
// process. What proves a part intact is its sha256, checked on every byte of the stored part
// whichever tar reads it (bsdtar may stop reading at the end-of-archive marker). GNU tar instead
// has a `zstd` process write the whole plaintext through a pipe it then reads, two more copies
// of every byte: on 2.9 GB that took 4.7-8.9 s (4-7.8 s of system time) where bsdtar took
// 2.6-2.8 s (1.4-1.8 s). Without bsdtar: GNU tar with the `zstd` binary, or zlib on Node's
// thread pool for gzip, or the in-process zstd decoder.

export interface BasePart {
  entry: ObjectEntry;
  codec: 'gzip' | 'zstd';
}

/** The base backup's tar objects and how each is compressed. */
export function baseParts(m: Manifest): BasePart[] {
  const parts = m.objects.flatMap((o): BasePart[] => {
    const name = o.path.split('/').pop() ?? '';
    if (/^base(\.\d+)?\.tar\.gz$/.test(name)) return [{ entry: o, codec: 'gzip' }];
    if (/^base(\.\d+)?\.tar\.zst$/.test(name)) return [{ entry: o, codec: 'zstd' }];
    return [];
  });
  if (parts.length) return parts;
  const first = m.objects[0];
  if (!first) throw new OperationError('backup.empty', `backup ${m.id} has no objects`);
  return [{ entry: first, codec: 'gzip' }];
}

/** Streams a base backup's tar parts from the repository, verified as they are read, into a data directory. */
export async function extractBaseBackup(ctx: ActionContext, repo: Repository, m: Manifest, dir: string, outer: AbortSignal = ctx.signal): Promise<void> {
  const parts = baseParts(m);
  const bsdtar = await usableBsdtar(ctx, parts);
  const zstdBin = !bsdtar && parts.some((p) => p.codec === 'zstd') ? await findZstd(ctx.env) : undefined;
  const tool: Extractor = bsdtar ? { kind: 'bsdtar', bin: bsdtar } : { kind: 'gnu', zstdBin };
  const hint = ' (bsdtar with zstd support, Debian package libarchive-tools, extracts faster)';
  ctx.log(`extracting ${parts.length} part(s) with ${bsdtar ? 'bsdtar' : `GNU tar${zstdBin ? ' and zstd' : ''}${hint}`}`);
  const total = parts.reduce((a, p) => a + p.entry.size, 0);
  const moved = parts.map(() => 0);
  const local = new AbortController();
  const signal = AbortSignal.any([outer, local.signal]);
  let cause: unknown;
  const results = await Promise.allSettled(
    parts.map((p, i) =>
      extractPart(ctx, repo, m, p, dir, tool, signal, (n) => {
        moved[i] = n;
        ctx.progress({ bytes: moved.reduce((a, b) => a + b, 0), total });
      }).catch((err: unknown) => {
        // One bad part fails the restore: the others stop rather than extract for nothing.
        cause ??= err;
        local.abort();
        throw err;
      }),
    ),
  );
  // The first failure is the cause; the others are parts stopped because of it.
  if (results.some((r) => r.status === 'rejected')) throw cause;
  // An empty pg_wal is not in every tar; the server needs it.
  await mkdir(path.join(dir, 'pg_wal', 'archive_status'), { recursive: true });
}

/**
 * bsdtar when it is installed and its libarchive reads every codec of these parts (zstd came in
 * libarchive 3.3.3, and only when built with libzstd): its --version names each library.
 */
async function usableBsdtar(ctx: ActionContext, parts: BasePart[]): Promise<string | undefined> {
  const bin = await findOnPath('bsdtar', ctx.env);
  if (!bin) return undefined;
  const r = await runProcess(bin, ['--version'], { signal: ctx.signal, env: { PATH: ctx.env.PATH } }).catch(() => undefined);
  if (r?.exitCode !== 0) return undefined;
  const libs = new Set(parts.map((p) => (p.codec === 'zstd' ? 'libzstd/' : 'zlib/')));
  return [...libs].every((l) => r.stdout.includes(l)) ? bin : undefined;
}

/** bsdtar decompresses in its own process; GNU tar needs the `zstd` binary, else Node decompresses. */
type Extractor = { kind: 'bsdtar'; bin: string } | { kind: 'gnu'; zstdBin: string | undefined };

async function extractPart(
  ctx: ActionContext,
  repo: Repository,
  m: Manifest,
  p: BasePart,
  dir: string,
  tool: Extractor,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<void> {
  // Nothing of the tar's ownership or setuid/setgid bits survives (both tars keep both by
  // default as root): --no-same-permissions under umask 077 leaves owner-only rwx bits. The
  // WAL spool is drctl's own, filled while the tar is extracted: a copy of one in the backup
  // (with a restore's leftovers) must not land in it. Nor must the logs of the source's own
  // drctl restore: they tell of that server's recovery, not of this one.
  const ours = [SPOOL, RECOVERY_LOG, STANDBY_LOG].flatMap((name) => ['--exclude', name]);
  const common = ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions', ...ours];
  let tarArgs: string[];
  let decompressed: boolean;
  if (tool.kind === 'bsdtar') {
    // bsdtar recognises the compression from the stream itself.
    tarArgs = common;
    decompressed = true;
  } else {
    // 1 MB records (-b 2048), assembled from short pipe reads (-B): tar then reads and writes in
    // 1 MB calls instead of 10 KB ones (measured on 2.3 GB: a quarter less system time, 15% less
    // wall time). tar finds zstd on the same PATH findZstd searched (a bare name: tar splits the
    // option on spaces).
    decompressed = p.codec === 'zstd' && tool.zstdBin !== undefined;
    tarArgs = [...common, '-b', '2048', '-B', ...(decompressed ? ['--use-compress-program=zstd'] : [])];
  }
  const bin = tool.kind === 'bsdtar' ? tool.bin : 'tar';
  const tar = await spawnProcess('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', bin, ...tarArgs], { signal, env: { PATH: ctx.env.PATH }, stdin: 'pipe', stdout: 'ignore' });
  // gzip: zlib on Node's thread pool; zstd without the binary: the in-process decompressor.
  const unpack = decompressed ? undefined : await decompressor(p.codec);
  let n = 0;
  const meter = async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) {
      n += chunk.length;
      onBytes(n);
      yield chunk;
    }
  };
  try {
    const source: Readable = await repo.readObject(m, p.entry, { signal });
    const sink = childStdinSink(tar.stdin as NodeJS.WritableStream);
    await (unpack ? pipeline(source, meter, unpack, sink, { signal }) : pipeline(source, meter, sink, { signal }));
  } catch (err) {
    tar.kill();
    await tar.done;
    throw err;
  }
  const r = await tar.done;
  if (r.exitCode !== 0) throw new OperationError('restore.tar', `tar failed extracting ${m.id} (${p.entry.path}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
}
