import { lstatSync, readFileSync } from 'node:fs';
import { lchown, readdir } from 'node:fs/promises';
import path from 'node:path';
import { IntegrityError, OperationError, UsageError } from '../../errors.js';

// Who a PostgreSQL data directory belongs to. As root, drctl runs every server and tool that
// touches a data directory as that directory's owner; as anyone else, as itself.

export interface Owner {
  uid: number;
  gid: number;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function passwd(): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name) out.push({ name, uid: Number(uid), gid: Number(gid) });
  }
  return out;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Who owns a data directory's file: lstat, so a symlink planted there proves nothing. Only as root. */
export function fileOwner(file: string): Owner | undefined {
  if (!isRoot()) return undefined;
  const s = lstatSync(file);
  return { uid: s.uid, gid: s.gid };
}

/**
 * As root, the user the restored server runs as: the owner of the target directory or of its
 * parent when that is not root, else the postgres user. Never the uid recorded in the tar,
 * which names a user of another machine.
 */
export function restoreOwner(dir: string): Owner | undefined {
  if (!isRoot()) return undefined;
  for (const d of [dir, path.dirname(dir)]) {
    try {
      const s = lstatSync(d);
      if (s.isDirectory() && s.uid !== 0) return { uid: s.uid, gid: s.gid };
    } catch {
      // absent: try the next
    }
  }
  const pg = passwd().find((e) => e.name === 'postgres');
  if (pg) return { uid: pg.uid, gid: pg.gid };
  throw new UsageError('usage.targetDir', `--target-dir ${dir}: running as root, and neither the directory, its parent nor a postgres user names the user the server should run as; create the directory owned by that user`);
}

/** As root, the postgres user a new throwaway cluster runs as. */
export function postgresUser(): Owner | undefined {
  if (!isRoot()) return undefined;
  const pg = passwd().find((e) => e.name === 'postgres');
  if (pg) return { uid: pg.uid, gid: pg.gid };
  throw new OperationError('scratch.user', 'running as root, but there is no postgres user to run a scratch cluster as');
}

/** The login name of a uid, for runuser. */
export function userName(uid: number): string {
  try {
    const e = passwd().find((x) => x.uid === uid);
    if (e) return e.name;
  } catch {
    // fall through
  }
  return String(uid);
}

/**
 * chown -R that never follows a symlink: a link to /etc/passwd in a backup stays a link. Only
 * files, directories and symlinks are given away: tar run as root creates the device nodes a
 * hostile or damaged backup holds, and a block device owned by the server's user is a raw disk.
 */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    // A Dirent of a symlink is never a directory: the walk does not leave the tree.
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else if (e.isFile() || e.isSymbolicLink()) await lchown(p, uid, gid);
    else throw new IntegrityError(`${p}: a ${e.isBlockDevice() ? 'block device' : e.isCharacterDevice() ? 'character device' : e.isFIFO() ? 'FIFO' : 'socket'} in the restored directory; a base backup holds only files, directories and symlinks (refused)`);
  }
}
