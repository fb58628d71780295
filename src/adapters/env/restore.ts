import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfirmationError, UsageError } from '../../errors.js';
import type { Manifest } from '../../repository/manifest.js';
import { defineAction } from '../types.js';
import { encryptedRepo } from './encrypted-repo.js';

// env.restore: an env file back from the repository; shows which keys changed (never the
// values) and asks before writing.

export const envRestore = defineAction({
  name: 'env.restore',
  summary: 'Restore an env file from the repository, showing which keys change',
  input: z.strictObject({ file: z.string().min(1), repo: z.string().optional(), backup: z.string().default('latest') }),
  outputs: ['backupId', 'added', 'removed', 'changed', 'unchanged'],
  describe: (i) => `restore ${i.file} from env backup ${i.backup} (asks first)`,
  async run(ctx, i) {
    const repo = await encryptedRepo(ctx, i.repo, false);
    const m = await repo.resolve(i.backup, ['env'], { of: (envs) => backupsOf(envs, i.file, repo.storage.location) });
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
      const ok = await ctx.confirm(`Write ${i.file} from ${m.id} (a backup of ${String(m.source.file)}): ${added.length} added, ${changed.length} changed, ${removed.length} removed?`);
      if (!ok) throw new ConfirmationError('confirm.declined', `declined: ${i.file} left untouched`);
      const tmp = `${i.file}.drctl-tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, i.file);
    } else ctx.log(`${i.file} already matches ${m.id}`);
    return { backupId: m.id, added, removed, changed, unchanged };
  },
});

/**
 * Which env backups are of `file`, for "latest": the repository may hold several services' env
 * files. The same path first, else the same file name (backed up from another directory);
 * none is no backup of this file, never another file's.
 */
function backupsOf(envs: Manifest[], file: string, location: string): Manifest[] {
  const recorded = (b: Manifest) => String(b.source.file ?? '');
  const same = envs.filter((b) => path.resolve(recorded(b)) === path.resolve(file));
  const named = same.length ? same : envs.filter((b) => path.basename(recorded(b)) === path.basename(file));
  if (!named.length) {
    const files = [...new Set(envs.map(recorded))];
    throw new UsageError('usage.backup', `no env backup of ${file} in ${location}${files.length ? ` (it holds backups of ${files.join(', ')}; pass --backup <id> to restore one of those)` : ''}`);
  }
  return named;
}
