import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationError } from '../../errors.js';
import { spawnProcess } from '../../process/run-process.js';
import type { ActionContext } from '../types.js';

// Base backup parts are zstd-compressed by the system `zstd` binary where there is one: a
// process per part runs on its own core, while the N-API binding compresses on Node's main
// thread, the one that also routes the tar and hashes what is stored. Without the binary the
// binding does the work (slower, same format).

export interface CompressStage {
  output: Readable;
  /** Resolves once the compressor has consumed its input and exited cleanly. */
  done: Promise<void>;
  kill(): void;
}

/** Compresses `input` at `level` (zstd's frame checksum on), by `zstdBin` or in-process. */
export async function zstdCompress(ctx: ActionContext, input: Readable, level: number, zstdBin: string | undefined): Promise<CompressStage> {
  if (!zstdBin) {
    const { CompressStream } = await import('zstd-napi');
    const stage = new CompressStream({ compressionLevel: level, checksumFlag: true }) as unknown as Transform;
    // pipeline, not .pipe: an input already destroyed (another part failed first) must end the
    // stage too, or whoever reads its output waits for ever.
    const fed = pipeline(input, stage);
    // Observed by the caller through `done` and by the output's reader; one that gave up
    // already (an aborted write) must not leave the error unhandled.
    fed.catch(() => {});
    stage.on('error', () => {});
    return { output: stage, done: fed, kill: () => stage.destroy(new OperationError('postgres.basebackup', 'compression stopped: another part of the base backup failed')) };
  }
  const proc = await spawnProcess(zstdBin, ['-q', '-c', `-${level}`, '--check'], { signal: ctx.signal, env: { PATH: ctx.env.PATH }, stdin: 'pipe', stdout: 'pipe' });
  const fed = pipeline(input, proc.stdin as NodeJS.WritableStream);
  const done = (async () => {
    const [fedResult, r] = await Promise.allSettled([fed, proc.done]);
    if (r.status === 'rejected') throw r.reason;
    if (r.value.exitCode !== 0) throw new OperationError('postgres.basebackup', `zstd failed (exit ${r.value.exitCode}): ${r.value.stderr.trim().split('\n').pop() ?? ''}`);
    if (fedResult.status === 'rejected') throw fedResult.reason;
  })();
  // Observed by the caller through `done`; an unhandled rejection must not end the process first.
  done.catch(() => {});
  return { output: proc.stdout as unknown as Readable, done, kill: () => proc.kill() };
}
