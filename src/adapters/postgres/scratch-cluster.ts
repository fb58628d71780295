import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { secrets } from '../../redact.js';
import { initCluster, startCluster, stopCluster } from './cluster.js';
import type { PgConn } from './conn.js';
import { postgresUser } from './owner.js';

// `--scratch auto`: a throwaway PostgreSQL that drctl starts for a test restore and always
// removes, also when the restore fails. As root it runs as the postgres user. It holds a copy
// of production data, so nobody else on the host can reach it: no TCP (listen_addresses ''),
// a socket in a 0700 directory of its own, and a random password for every connection.

export interface ScratchCluster {
  /** Connection to the postgres database over the private socket. */
  conn: PgConn;
  /** The cluster's directory (data, socket, log): 0700, removed by stop(). */
  dir: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** The socket's port number: the directory is private, so nothing can clash with it. */
const PORT = 5432;

export async function startScratchCluster(env: Readonly<Record<string, string | undefined>>, signal: AbortSignal): Promise<ScratchCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-scratch-'));
  const user = postgresUser();
  chmodSync(dir, 0o700);
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  secrets.add(password);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  const c = { env, signal };
  const stop = async () => {
    await stopCluster(c, data, 'immediate').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await initCluster(c, user, ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], 'scratch.initdb');
    rmSync(pwfile);
    writeFileSync(
      path.join(data, 'postgresql.auto.conf'),
      `port = ${PORT}\nlisten_addresses = ''\nunix_socket_directories = '${dir.replace(/'/g, "''")}'\nunix_socket_permissions = 0700\nfsync = off\nsynchronous_commit = off\n`,
      { flag: 'a' },
    );
    await startCluster(c, data, { log: path.join(dir, 'log'), code: 'scratch.pg_ctl', wait: { timeoutS: 60 } });
  } catch (err) {
    await stop();
    throw err;
  }
  return { conn: { host: dir, port: PORT, user: 'postgres', password, database: 'postgres', params: {} }, dir, dataDir: data, stop };
}
