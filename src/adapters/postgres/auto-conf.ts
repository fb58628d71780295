import { readFile, rename, rm, stat, writeFile, lchown } from 'node:fs/promises';

// Recovery settings in postgresql.auto.conf are one recovery's, never the cluster's. A restore
// appends its target and restore_command there; left after promotion, they travel into every
// later base backup, and the next restore from one of those would recover to the old target
// (a `latest` restore stopping at a time that is not its own) with the old credentials path.

const RECOVERY_SETTING = /^\s*(?:recovery_target\w*|restore_command)\s*=/i;
const DRCTL_HEADER = /^# drctl restore of /;

/** The file without any recovery target, restore_command, or drctl's comment heading them. */
export function withoutRecoverySettings(text: string): string {
  return text
    .split('\n')
    .filter((l) => !RECOVERY_SETTING.test(l) && !DRCTL_HEADER.test(l))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

/**
 * Removes the recovery settings from a data directory's postgresql.auto.conf, the file keeping
 * its owner and mode. Atomic: the server may read the file on a reload meanwhile.
 */
export async function dropRecoverySettings(file: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return;
  }
  const kept = withoutRecoverySettings(text);
  if (kept === text) return;
  const s = await stat(file);
  const tmp = `${file}.drctl-${process.pid}`;
  try {
    await writeFile(tmp, kept, { mode: s.mode & 0o777 });
    if (process.getuid?.() === 0) await lchown(tmp, s.uid, s.gid);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
