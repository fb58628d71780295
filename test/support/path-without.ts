import { chmodSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { tempDir } from './cli.js';

/** A PATH with everything /usr/bin has but the tools `hide` matches (and /usr/sbin, for runuser). */
export function pathWithout(hide: RegExp): string {
  const bin = tempDir('drctl-path-');
  // The server's user runs pg_ctl and restore_command with this PATH too.
  chmodSync(bin, 0o755);
  for (const f of readdirSync('/usr/bin')) if (!hide.test(f)) symlinkSync(path.join('/usr/bin', f), path.join(bin, f));
  expect(readdirSync('/usr/sbin').filter((f) => hide.test(f))).toEqual([]);
  return `${bin}:/usr/sbin`;
}
