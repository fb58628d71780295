import { existsSync } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ConfirmationError, UsageError } from '../../errors.js';
import type { ActionContext } from '../types.js';

// The directory a restore writes into: made, or emptied after confirmation, before the restore;
// put back as it was found after a failed one. A directory that was already there (made by the
// operator for the server's user, with the mode their setup wants, perhaps a mount point) stays
// where it is, with its owner and mode: only what the restore put in it goes.

export interface TargetDir {
  dir: string;
  /** Made by this restore: removed whole on failure. */
  made: boolean;
  uid: number;
  gid: number;
  mode: number;
}

/** Absent: made. Empty: used. Not empty: its contents deleted once the operator confirms. */
export async function prepareTargetDir(ctx: ActionContext, dir: string): Promise<TargetDir> {
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return { dir, made: true, ...(await ownerAndMode(dir)) };
  }
  const found = { dir, made: false, ...(await ownerAndMode(dir)) };
  const entries = await readdir(dir);
  if (!entries.length) return found;
  if (entries.includes('postmaster.pid')) {
    throw new UsageError('usage.targetDir', `--target-dir ${dir}: a PostgreSQL server seems to be running on it (postmaster.pid); stop it first`);
  }
  const ok = await ctx.confirm(`${dir} is not empty (${entries.length} entries). Delete its contents and restore into it?`);
  if (!ok) throw new ConfirmationError('confirm.declined', `declined: ${dir} left untouched`);
  await emptyDir(dir);
  return found;
}

/** After a failed restore: nothing of it left, and the directory as it was found (or gone, if made). */
export async function undoTargetDir(t: TargetDir): Promise<void> {
  if (t.made) {
    await rm(t.dir, { recursive: true, force: true });
    return;
  }
  await emptyDir(t.dir);
  // The restore gives the directory to the server's user, 0700, before it fails at its last steps.
  if (process.getuid?.() === 0) await lchown(t.dir, t.uid, t.gid);
  await chmod(t.dir, t.mode);
}

async function ownerAndMode(dir: string): Promise<{ uid: number; gid: number; mode: number }> {
  const s = await lstat(dir);
  return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 };
}

async function emptyDir(dir: string): Promise<void> {
  for (const e of await readdir(dir)) await rm(path.join(dir, e), { recursive: true, force: true });
}
