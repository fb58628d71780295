import type { Readable } from 'node:stream';
import type { Spawned } from '../../process/run-process.js';
import type { Compression } from '../../repository/compress.js';
import type { ObjectEntry } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
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
  o: { backupId: string; name: string; tool: string; child: Spawned; body: Readable; total?: number; compression?: Compression; onBytes?: (bytes: number) => void },
): Promise<ObjectEntry> {
  let entry: ObjectEntry;
  try {
    entry = await repo.writeObject(o.backupId, o.name, o.body, {
      signal: ctx.signal,
      compression: o.compression,
      onBytes: (bytes) => {
        ctx.progress({ bytes, total: o.total });
        o.onBytes?.(bytes);
      },
    });
  } catch (err) {
    o.child.kill();
    await o.child.done;
    throw err;
  }
  const result = await o.child.done;
  if (result.exitCode !== 0) {
    await repo.storage.remove(`backups/${o.backupId}/${entry.path}`).catch(() => {});
    throw toolError(o.tool, result);
  }
  return entry;
}
