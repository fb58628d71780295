import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { encryptedRepo } from './encrypted-repo.js';

// env.backup: an env file into the repository, encrypted.

export const envBackup = defineAction({
  name: 'env.backup',
  summary: 'Store an env file (encrypted) in the repository',
  input: z.strictObject({ file: z.string().min(1), repo: z.string().optional(), label: z.string().optional() }),
  outputs: ['backupId', 'keys'],
  describe: (i) => `back up ${i.file} (encrypted)`,
  async run(ctx, i) {
    const repo = await encryptedRepo(ctx, i.repo, true);
    let text: string;
    try {
      text = await readFile(i.file, 'utf8');
    } catch {
      throw new OperationError('env.read', `cannot read ${i.file}`);
    }
    const vars = parseEnv(text);
    for (const v of Object.values(vars)) ctx.secret(v);
    const id = await repo.newBackupId('env');
    const startedAt = new Date();
    const entry = await repo.writeObject(id, 'env', Readable.from([Buffer.from(text)]), { signal: ctx.signal });
    const keys = Object.keys(vars).sort();
    await repo.commit({
      id,
      kind: 'env',
      label: i.label,
      source: { file: i.file, keys: keys.length },
      startedAt: startedAt.toISOString(),
      stoppedAt: new Date().toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      recoveryPoint: startedAt.toISOString(),
      objects: [entry],
      extra: { keys },
    });
    ctx.log(`backup ${id}: ${keys.length} variables from ${i.file}`);
    return { backupId: id, keys };
  },
});
