import type { Readable } from 'node:stream';
import { OperationError } from '../../errors.js';
import type { ProcessResult, Spawned } from '../../process/run-process.js';
import type { Compression } from '../../repository/compress.js';
import type { ObjectEntry } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import { COMPRESSOR_ENDED } from '../../repository/zstd-digest.js';
import type { ActionContext } from '../types.js';
import { toolError } from './tools.js';

/**
 * Stores what a tool writes (pg_dump, pg_basebackup) as one object of a backup. The object
 * only counts once the tool exited 0: if storing fails the tool is stopped, and if the tool
 * fails its partial output is removed.
 */
export async function storeToolOutput(
  ctx: ActionContext,
  repo: Repository,
  o: {
    backupId: string;
    name: string;
    tool: string;
    child: Spawned;
    body: Readable;
    total?: number;
    compression?: Compression;
    onBytes?: (bytes: number) => void;
    /** A compressor process between the tool and `body` (`body` is then its compressed output). */
    compressor?: { name: string; child: Spawned };
  },
): Promise<ObjectEntry> {
  const children = o.compressor ? [o.child, o.compressor.child] : [o.child];
  let entry: ObjectEntry;
  try {
    entry = await repo.writeObject(o.backupId, o.name, o.body, {
      signal: ctx.signal,
      compression: o.compression,
      precompressed: o.compressor !== undefined,
      onBytes: (bytes) => {
        ctx.progress({ bytes, total: o.total });
        o.onBytes?.(bytes);
      },
    });
  } catch (err) {
    // A compressed stream that ended short means the compressor ended: its exit explains why
    // better than the stream. On any other failure it is stopped here (a broken pipe), and its
    // exit says nothing.
    let packed: ProcessResult | undefined;
    if (o.compressor && err instanceof OperationError && err.code === COMPRESSOR_ENDED) {
      const c = o.compressor.child;
      const timer = setTimeout(() => c.kill(), 2000);
      packed = await c.done;
      clearTimeout(timer);
    }
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.done));
    if (o.compressor && packed && packed.exitCode !== 0) throw compressorError(o.compressor.name, packed);
    throw err;
  }
  const [result, packed] = await Promise.all([o.child.done, o.compressor?.child.done]);
  // A compressor that failed first breaks the tool's pipe: its error is the one that explains.
  if (o.compressor && packed && packed.exitCode !== 0) {
    await repo.storage.remove(`backups/${o.backupId}/${entry.path}`).catch(() => {});
    throw compressorError(o.compressor.name, packed);
  }
  if (result.exitCode !== 0) {
    await repo.storage.remove(`backups/${o.backupId}/${entry.path}`).catch(() => {});
    throw toolError(o.tool, result);
  }
  return entry;
}

/** The compressor's failure, in one line: its exit and the last line it wrote to stderr. */
export function compressorError(name: string, r: ProcessResult): OperationError {
  const line = r.stderr.trim().split('\n').filter(Boolean).pop()?.replace(/^\S+: /, '');
  return new OperationError('repo.compress', `the compressor (${name}) failed (exit ${r.exitCode}${r.signal ? `, ${r.signal}` : ''})${line ? `: ${line}` : ''}`);
}
