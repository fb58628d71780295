import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file atomically. Reports follow the user's umask; drctl's own state (history,
 * incident records) is `private`: 0600 files in 0700 directories whatever the umask.
 */
export async function writeAtomic(file: string, content: string, o: { private?: boolean } = {}): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: o.private ? 0o700 : 0o777 });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, content, { mode: o.private ? 0o600 : 0o666, flag: 'w' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
