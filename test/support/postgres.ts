import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../src/net/free-port.js';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// A real, throwaway PostgreSQL 15 for tests: initdb into a temp dir, a free loopback port, the
// socket in the temp dir, password auth over TCP. As root it runs as the postgres user.

const run = promisify(execFile);
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const IS_ROOT = process.getuid?.() === 0;

export interface PgServer {
  dir: string;
  dataDir: string;
  port: number;
  host: string;
  user: string;
  password: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/<db> */
  url(db?: string): string;
  /** Runs SQL through psql and returns stdout (unaligned, tuples only). */
  sql(query: string, db?: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Appends settings to postgresql.conf (restart to apply those that need it). */
  configure(settings: Record<string, string>): void;
  restart(): Promise<void>;
}

export { freePort };

/** argv to run a PG binary as the right user. */
export function asPostgres(bin: string, args: string[]): [string, string[]] {
  return IS_ROOT ? ['runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args]] : [path.join(PG_BIN, bin), args];
}

/** The postgres user's ids when running as root (looked up: they differ between machines). */
export function postgresIds(): { uid: number; gid: number } | undefined {
  if (!IS_ROOT) return undefined;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error('running as root but there is no postgres user: install postgresql (./scripts/test.sh does)');
}

/** Makes a directory usable by the postgres user when running as root. */
export function giveToPostgres(p: string): void {
  const ids = postgresIds();
  if (ids) chownSync(p, ids.uid, ids.gid);
}

export async function startPostgres(o: { password?: string; settings?: Record<string, string> } = {}): Promise<PgServer> {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) throw new Error(`PostgreSQL binaries not found in ${PG_BIN}: run ./scripts/test.sh, which installs them`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-pg-'));
  chmodSync(dir, 0o755);
  giveToPostgres(dir);
  const dataDir = path.join(dir, 'data');
  const password = o.password ?? 'test-pw-4e1c7b';
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`);
  giveToPostgres(pwfile);
  const port = await freePort();
  await pgExec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const server = clusterIn({ dir, dataDir, port, host: '127.0.0.1', password });
  server.configure({
    port: String(port),
    listen_addresses: `'${server.host}'`,
    unix_socket_directories: `'${dir}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'on',
    shared_buffers: '64MB',
    max_connections: '50',
    ...o.settings,
  });
  await server.start();
  return server;
}

/** Runs a PostgreSQL program as the postgres user (as root) or as ourselves. */
export function pgExec(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = asPostgres(bin, args);
  return run(cmd, argv, { maxBuffer: 64 * 1024 * 1024 });
}

/**
 * The server of an initialised data directory (initdb or pg_basebackup), not yet started:
 * pg_ctl starts and stops it, psql talks to it over TCP as postgres with `password`.
 */
export function clusterIn(o: { dir: string; dataDir: string; port: number; host: string; password: string }): PgServer {
  const { dir, dataDir, port, host, password } = o;
  const configure = (settings: Record<string, string>) => {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
    writeFileSync(path.join(dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`, { flag: 'a' });
  };
  const start = async () => {
    await pgExec('pg_ctl', ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  };
  const stop = async () => {
    try {
      await pgExec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  const server: PgServer = {
    dir,
    dataDir,
    port,
    host,
    user: 'postgres',
    password,
    url: (db = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@${host}:${port}/${db}`,
    async sql(query, db = 'postgres') {
      const { stdout } = await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', server.url(db), '-c', query], {
        maxBuffer: 256 * 1024 * 1024,
      });
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

/** Stops the server and removes its directory. */
export async function destroyPostgres(pg: PgServer | undefined): Promise<void> {
  if (!pg) return;
  await pg.stop();
  rmSync(pg.dir, { recursive: true, force: true });
}

/** Runs psql with a script file (for fixtures with functions and COPY). */
export async function psqlFile(pg: PgServer, file: string, db = 'postgres'): Promise<void> {
  await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pg.url(db), '-f', file], { maxBuffer: 64 * 1024 * 1024 });
}

