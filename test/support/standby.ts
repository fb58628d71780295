import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterIn, freePort, giveToPostgres, pgExec, type PgServer } from './postgres.js';

// A streaming standby of a test primary, made the way operators do it: pg_basebackup -R (which
// writes standby.signal and primary_conninfo), on its own port and socket directory.

/** Settings a primary needs to feed standbys. */
export const PRIMARY_SETTINGS = { wal_level: 'replica', max_wal_senders: '5', wal_keep_size: "'128MB'", hot_standby: 'on' };

export async function startStandby(primary: PgServer): Promise<PgServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-standby-'));
  chmodSync(dir, 0o755);
  giveToPostgres(dir);
  const dataDir = path.join(dir, 'data');
  await pgExec('pg_basebackup', ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-d', primary.url()]);
  const port = await freePort();
  const server = clusterIn({ dir, dataDir, port, host: primary.host, password: primary.password });
  server.configure({ port: String(port), unix_socket_directories: `'${dir}'`, hot_standby: 'on' });
  await server.start();
  return server;
}

/** Resolves once the standby has replayed everything the primary has written so far. */
export async function caughtUp(primary: PgServer, standby: PgServer, what: 'replay' | 'receive' = 'replay'): Promise<void> {
  // The insert position: with synchronous_commit off the last commit may not be written yet.
  const target = await primary.sql('select pg_current_wal_insert_lsn()');
  const fn = what === 'replay' ? 'pg_last_wal_replay_lsn()' : 'pg_last_wal_receive_lsn()';
  for (let i = 0; i < 600; i++) {
    if ((await standby.sql(`select ${fn} >= '${target}'::pg_lsn`)) === 't') return;
    await sleep(100);
  }
  throw new Error(`standby did not ${what} up to ${target}`);
}

export async function destroyStandby(s: PgServer | undefined): Promise<void> {
  if (!s) return;
  await s.stop();
  rmSync(s.dir, { recursive: true, force: true });
}
