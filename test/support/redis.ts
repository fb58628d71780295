import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './cli.js';
import { freePort } from './postgres.js';
import { killAndWait, waitForPort } from './ports.js';

// A real redis-server on loopback in a temp dir (scripts/test.sh installs it when missing).

export interface RedisServer {
  port: number;
  dir: string;
  /** The first server process (not one restarted by drctl). */
  pid: number;
  url: string;
  password?: string;
  /** The shell command that starts this server again (for drctl redis restore). */
  startCommand: string;
  stop(): Promise<void>;
}

export async function startRedis(o: { password?: string } = {}): Promise<RedisServer> {
  const dir = tempDir('drctl-redis-');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--logfile', path.join(dir, 'log')];
  if (o.password) args.push('--requirepass', o.password);
  const startCommand = `redis-server ${args.map((a) => `'${a}'`).join(' ')} --daemonize yes --pidfile '${dir}/pid'`;
  let child: ChildProcess | undefined = spawn('redis-server', args, { stdio: 'ignore' });
  await waitForPort(port, { what: 'redis-server', child });
  return {
    port,
    dir,
    pid: child.pid!,
    url: `redis://${o.password ? `:${encodeURIComponent(o.password)}@` : ''}127.0.0.1:${port}`,
    password: o.password,
    startCommand,
    async stop() {
      if (child) await killAndWait(child, 'SIGKILL');
      child = undefined;
      // A server restarted by drctl runs daemonized: stop it by its pid file.
      try {
        const pid = Number((await import('node:fs')).readFileSync(path.join(dir, 'pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
      } catch {
        // not restarted
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
