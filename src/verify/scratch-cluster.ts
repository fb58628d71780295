import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PgConn } from '../adapters/postgres/conn.js';
import { runTool } from '../adapters/postgres/tools.js';
import { OperationError } from '../errors.js';
import { runProcess } from '../process/run-process.js';
import { secrets } from '../redact.js';

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

function postgresUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid), name };
  }
  throw new OperationError('scratch.user', 'running as root, but there is no postgres user to run a scratch cluster as');
}

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
  const asPg = async (tool: 'initdb' | 'pg_ctl', args: string[]) => {
    if (!user) return runTool(tool, args, { env, signal });
    const { toolPath } = await import('../adapters/postgres/tools.js');
    const r = await runProcess('runuser', ['-u', user.name, '--', toolPath(tool, env), ...args], { signal, env: { PATH: env.PATH, LANG: 'C.UTF-8' } });
    if (r.exitCode !== 0) throw new OperationError(`scratch.${tool}`, `${tool} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
    return r;
  };
  const stop = async () => {
    await asPg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPg('initdb', ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    rmSync(pwfile);
    writeFileSync(
      path.join(data, 'postgresql.auto.conf'),
      `port = ${PORT}\nlisten_addresses = ''\nunix_socket_directories = '${dir.replace(/'/g, "''")}'\nunix_socket_permissions = 0700\nfsync = off\nsynchronous_commit = off\n`,
      { flag: 'a' },
    );
    await asPg('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    await stop();
    throw err;
  }
  return { conn: { host: dir, port: PORT, user: 'postgres', password, database: 'postgres', params: {} }, dir, dataDir: data, stop };
}
