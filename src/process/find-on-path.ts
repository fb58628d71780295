import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** The first executable `name` on the caller's PATH, or undefined when none is installed. */
export async function findOnPath(name: string, env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
