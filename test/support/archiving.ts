import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, lchownSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, tempDir } from './cli.js';
import { postgresIds, startPostgres, type PgServer } from './postgres.js';

// A PostgreSQL that archives its WAL into a drctl file repository with `drctl wal-push %p`,
// exactly as the README tells users to configure it.

export interface ArchivingServer {
  pg: PgServer;
  repoDir: string;
  repo: string;
}

export function ownedByPostgres(dir: string): string {
  const ids = postgresIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  return dir;
}

/**
 * A copy of a repository as its archiving server keeps it: owned by the server's user, whose
 * restore_command (drctl wal-fetch) reads it.
 */
export function copyRepository(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  const ids = postgresIds();
  if (ids) {
    chownSync(to, ids.uid, ids.gid);
    for (const f of readdirSync(to, { recursive: true }) as string[]) lchownSync(path.join(to, f), ids.uid, ids.gid);
  }
  return to;
}

export async function startArchivingPostgres(): Promise<ArchivingServer> {
  // archive_command runs drctl as the server's user: it must be able to read the checkout.
  if (postgresIds()) {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', process.execPath, CLI, '--version']);
    if (r.status !== 0) throw new Error(`the postgres user cannot run ${CLI} (archive_command needs it): check the permissions of the checkout's directories`);
  }
  const repoDir = ownedByPostgres(tempDir('drctl-pitr-repo-'));
  const repo = `file://${repoDir}`;
  const command = `DRCTL_REPO=${repo} ${process.execPath} ${CLI} wal-push %p`;
  const pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: `'${command}'`, wal_level: 'replica' } });
  return { pg, repoDir, repo };
}

/** Archived WAL file names of one timeline in a file repository. */
export function archived(repoDir: string, timeline = 1): string[] {
  try {
    return readdirSync(path.join(repoDir, 'wal', timeline.toString(16).toUpperCase().padStart(8, '0'))).map((f) => f.replace(/-[0-9a-f]{64}(\.[a-z]+)?$/, ''));
  } catch {
    return [];
  }
}

/** Switches to a new WAL segment and waits until the finished one is in the repository. */
export async function switchAndWaitArchived(pg: PgServer, repoDir: string, timeline = 1): Promise<string> {
  const segment = await pg.sql('select pg_walfile_name(pg_switch_wal())');
  const deadline = Date.now() + 30_000;
  while (!archived(repoDir, timeline).includes(segment)) {
    if (Date.now() > deadline) throw new Error(`segment ${segment} was not archived within 30s`);
    await sleep(200);
  }
  return segment;
}
