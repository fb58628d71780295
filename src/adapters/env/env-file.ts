import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfirmationError, OperationError } from '../../errors.js';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';

// env.backup / env.restore (an encrypted .env backup, for when the environment variables are
// lost): an env file into the repository, encrypted; a restore shows which keys
// changed (never the values) and asks before writing.

async function encryptedRepo(ctx: Parameters<typeof openRepo>[0], url: string | undefined, create: boolean) {
  const repo = await openRepo(ctx, url, { create });
  if (!repo.encrypted) {
    throw new OperationError('env.unencrypted', `${repo.storage.location} is not encrypted: env files hold secrets, so env backups need a repository created with DRCTL_ENCRYPTION_KEY`);
  }
  return repo;
}

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

export const envRestore = defineAction({
  name: 'env.restore',
  summary: 'Restore an env file from the repository, showing which keys change',
  input: z.strictObject({ file: z.string().min(1), repo: z.string().optional(), backup: z.string().default('latest') }),
  outputs: ['backupId', 'added', 'removed', 'changed', 'unchanged'],
  describe: (i) => `restore ${i.file} from env backup ${i.backup} (asks first)`,
  async run(ctx, i) {
    const repo = await encryptedRepo(ctx, i.repo, false);
    const m = await repo.resolve(i.backup, ['env']);
    let text = '';
    for await (const c of await repo.readObject(m, m.objects[0]!, { signal: ctx.signal })) text += (c as Buffer).toString('utf8');
    const restored = parseEnv(text);
    for (const v of Object.values(restored)) ctx.secret(v);
    const current = existsSync(i.file) ? parseEnv(await readFile(i.file, 'utf8')) : {};
    for (const v of Object.values(current)) ctx.secret(v);
    const added = Object.keys(restored).filter((k) => !(k in current)).sort();
    const removed = Object.keys(current).filter((k) => !(k in restored)).sort();
    const changed = Object.keys(restored).filter((k) => k in current && current[k] !== restored[k]).sort();
    const unchanged = Object.keys(restored).filter((k) => current[k] === restored[k]).length;
    for (const k of added) ctx.log(`+ ${k} (added)`);
    for (const k of changed) ctx.log(`~ ${k} (value differs)`);
    for (const k of removed) ctx.log(`- ${k} (not in the backup; will be dropped)`);
    if (added.length || changed.length || removed.length) {
      const ok = await ctx.confirm(`Write ${i.file} from ${m.id}: ${added.length} added, ${changed.length} changed, ${removed.length} removed?`);
      if (!ok) throw new ConfirmationError(`declined: ${i.file} left untouched`);
      const tmp = `${i.file}.drctl-tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, i.file);
    } else ctx.log(`${i.file} already matches ${m.id}`);
    return { backupId: m.id, added, removed, changed, unchanged };
  },
});
