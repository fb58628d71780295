import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { asPostgres, freePort, giveToPostgres, PG_BIN, type PgServer } from './postgres.js';

// A streaming standby of a test primary, made the way operators do it: pg_basebackup -R (which
// writes standby.signal and primary_conninfo), on its own port and socket directory.

const run = promisify(execFile);

/** Settings a primary needs to feed standbys. */
export const PRIMARY_SETTINGS = { wal_level: 'replica', max_wal_senders: '5', wal_keep_size: "'128MB'", hot_standby: 'on' };

export async function startStandby(primary: PgServer): Promise<PgServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-standby-'));
  chmodSync(dir, 0o755);
  giveToPostgres(dir);
  const dataDir = path.join(dir, 'data');
  const exec = async (bin: string, args: string[]) => {
    const [cmd, argv] = asPostgres(bin, args);
    return run(cmd, argv, { maxBuffer: 64 * 1024 * 1024 });
  };
  await exec('pg_basebackup', ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-d', primary.url()]);
  const port = await freePort();
  const configure = (settings: Record<string, string>) => {
    writeFileSync(path.join(dataDir, 'postgresql.conf'), `\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`, { flag: 'a' });
  };
  configure({ port: String(port), unix_socket_directories: `'${dir}'`, hot_standby: 'on' });
  const start = async () => {
    await exec('pg_ctl', ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  };
  const stop = async () => {
    try {
      await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  await start();
  const server: PgServer = {
    dir,
    dataDir,
    port,
    host: primary.host,
    user: primary.user,
    password: primary.password,
    url: (db = 'postgres') => `postgres://postgres:${encodeURIComponent(primary.password)}@${primary.host}:${port}/${db}`,
    async sql(query, db = 'postgres') {
      const { stdout } = await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', server.url(db), '-c', query]);
      return stdout.trim();
    },
    start,
    stop,
    configure,
    restart: async () => {
      await stop();
      await start();
    },
  };
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
