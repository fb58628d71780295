import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

// Crash points for the crash-safety tests: DRCTL_FAULT=<name> makes drctl kill itself with
// SIGKILL at that point, as a power cut would. Unset in production, where this is a no-op.
export function crashPoint(name: string): void {
  if (process.env.DRCTL_FAULT === name) process.kill(process.pid, 'SIGKILL');
}

/**
 * Pause points for the concurrency tests: DRCTL_PAUSE=<name>:<file> makes drctl create <file>
 * when it reaches that point and wait there until the file is removed, so a test can act while
 * drctl is exactly there (wal-fetch reads it from its env file too: it runs under the server).
 * Unset in production, where this is a no-op.
 */
export async function pausePoint(name: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const spec = env.DRCTL_PAUSE;
  if (!spec?.startsWith(`${name}:`)) return;
  const file = spec.slice(name.length + 1);
  writeFileSync(file, `${process.pid}\n`);
  while (existsSync(file)) await sleep(20);
}
