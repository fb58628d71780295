import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { storeParts } from '../../src/adapters/postgres/base-backup.js';
import { zstdCompress } from '../../src/adapters/postgres/zstd-tool.js';
import type { ActionContext } from '../../src/adapters/types.js';
import { InterruptedError } from '../../src/errors.js';
import { TarSplit } from '../../src/pitr/tar-split.js';
import { spawnProcess } from '../../src/process/run-process.js';
import { Repository } from '../../src/repository/repository.js';

// How a base backup's parts are stored when something stops it: the cause is reported, and
// nothing waits for ever.

function context(signal: AbortSignal, env: Record<string, string | undefined> = { PATH: process.env.PATH }): ActionContext {
  return {
    signal,
    runId: 'r',
    stepId: 's',
    env,
    config: {},
    stateDir: mkdtempSync(path.join(os.tmpdir(), 'drctl-parts-state-')),
    runStartedAt: new Date(),
    log: () => {},
    progress: () => {},
    confirm: async () => false,
    secret: () => {},
    backupKinds: new Map(),
  };
}

async function drain(r: Readable): Promise<void> {
  for await (const _ of r);
}

describe('base backup parts', () => {
  for (const zstd of ['binary', 'in-process'] as const) {
    it(`an interrupt while pg_basebackup runs reports the interrupt, not a pg_basebackup failure, and stores nothing (zstd ${zstd})`, async () => {
      const url = `file://${mkdtempSync(path.join(os.tmpdir(), 'drctl-parts-repo-'))}`;
      const repo = await Repository.open(url, { env: {}, config: {} }, { create: true, kinds: ['base'], notice: () => {} });
      const id = await repo.newBackupId('base');
      const ac = new AbortController();
      const ctx = context(ac.signal, zstd === 'binary' ? { PATH: process.env.PATH } : { PATH: '' });
      // Stands in for pg_basebackup: a child that streams nothing until it is stopped.
      const proc = await spawnProcess('sleep', ['30'], { signal: ac.signal, env: { PATH: process.env.PATH } });
      const split = new TarSplit(2);
      (proc.stdout as Readable).pipe(split);
      const stored = storeParts(ctx, repo, id, proc, split, undefined);
      // killGroupOnAbort stops the child with SIGTERM, as Ctrl-C does.
      ac.abort(new InterruptedError('interrupted by SIGINT'));
      await expect(stored).rejects.toThrow(InterruptedError);
      expect(await repo.storage.list(`backups/${id}/`)).toEqual([]);
    });
  }

  it('an in-process compressor whose input was already destroyed ends instead of waiting for ever', async () => {
    const input = new PassThrough().on('error', () => {});
    input.destroy(new Error('another part failed'));
    const stage = await zstdCompress(context(new AbortController().signal, { PATH: '' }), input, 3, undefined);
    await expect(drain(stage.output)).rejects.toThrow();
    await expect(stage.done).rejects.toThrow();
  });
});
