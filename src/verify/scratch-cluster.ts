import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTool } from '../adapters/postgres/tools.js';
import { OperationError } from '../errors.js';
import { runProcess } from '../process/run-process.js';
import { secrets } from '../redact.js';
import { freePort } from '../net/free-port.js';

// `--scratch auto`: a throwaway PostgreSQL that drctl starts for a test restore and always
// removes, also when the restore fails. As root it runs as the postgres user.

export interface ScratchCluster {
  url: string;
  stop(): Promise<void>;
}

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
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  secrets.add(password);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  const port = await freePort();
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
    await asPg('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    writeFileSync(
      path.join(data, 'postgresql.auto.conf'),
      `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\n`,
      { flag: 'a' },
    );
    await asPg('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, stop };
}
