import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../errors.js';
import { runProcess, spawnProcess, type ProcessResult, type Spawned } from '../../process/run-process.js';
import { libpqEnv, type PgConn } from './conn.js';
import { userName, type Owner } from './owner.js';

// The one module that runs pg_dump, pg_restore, pg_basebackup and friends: binary lookup,
// libpq environment (password via PGPASSWORD, never argv), AbortSignal, and errors that quote
// the tool's own last line. Server programs (initdb, pg_ctl, postgres) run as the data
// directory's owner through spawnToolAs.

export type PgTool = 'pg_dump' | 'pg_restore' | 'pg_basebackup' | 'psql' | 'pg_ctl' | 'initdb' | 'pg_controldata' | 'postgres';

/** The directory of the newest installed PostgreSQL binaries (PG_BIN overrides). */
export function pgBinDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.PG_BIN) return env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'pg_dump')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  return undefined;
}

export function toolPath(tool: PgTool, env: Readonly<Record<string, string | undefined>>): string {
  const dir = pgBinDir(env);
  return dir ? path.join(dir, tool) : tool;
}

function baseEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  // Only what the tools need: no stray PG* from the caller overriding the connection.
  return { PATH: env.PATH, HOME: env.HOME, LANG: env.LANG ?? 'C.UTF-8', TZ: env.TZ, TMPDIR: env.TMPDIR };
}

export function toolEnv(env: Readonly<Record<string, string | undefined>>, conn?: PgConn): Record<string, string | undefined> {
  return { ...baseEnv(env), ...(conn ? libpqEnv(conn) : {}) };
}

/** Runs a tool to completion; throws OperationError with its last stderr line on failure. */
export async function runTool(
  tool: PgTool,
  args: string[],
  o: { env: Readonly<Record<string, string | undefined>>; conn?: PgConn; signal: AbortSignal; cwd?: string },
): Promise<ProcessResult> {
  const r = await runProcess(toolPath(tool, o.env), args, { signal: o.signal, env: toolEnv(o.env, o.conn), cwd: o.cwd });
  if (r.exitCode !== 0) throw toolError(tool, r);
  return r;
}

/** Starts a tool whose stdout/stdin the caller streams. */
export function spawnTool(
  tool: PgTool,
  args: string[],
  o: {
    env: Readonly<Record<string, string | undefined>>;
    conn?: PgConn;
    signal: AbortSignal;
    stdin?: 'pipe' | 'ignore';
    stdout?: 'pipe' | 'ignore' | NodeJS.WritableStream | number;
    cwd?: string;
    onStderrLine?: (line: string) => void;
  },
): Promise<Spawned> {
  return spawnProcess(toolPath(tool, o.env), args, {
    signal: o.signal,
    env: toolEnv(o.env, o.conn),
    stdin: o.stdin,
    stdout: o.stdout,
    cwd: o.cwd,
    onStderrLine: o.onStderrLine,
  });
}

export function toolError(tool: string, r: ProcessResult): OperationError {
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  const meaningful = lines.filter((l) => /error|fatal|failed|could not|invalid|denied/i.test(l));
  const line = (meaningful[meaningful.length - 1] ?? lines[lines.length - 1] ?? '').replace(/^\S+: /, '');
  return new OperationError(`postgres.${tool}`, `${tool} failed (exit ${r.exitCode}${r.signal ? `, ${r.signal}` : ''})${line ? `: ${line}` : ''}`);
}

/** What a server and its control programs get: PATH and a known locale, so their log lines parse. */
function serverEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  return { PATH: env.PATH, LANG: 'C.UTF-8' };
}

/** Starts a server program as a data directory's owner (runuser, as root), or as ourselves. */
export function spawnToolAs(
  owner: Owner | undefined,
  tool: 'initdb' | 'pg_ctl' | 'postgres',
  args: string[],
  o: { env: Readonly<Record<string, string | undefined>>; signal: AbortSignal; stdout?: 'pipe' | 'ignore' },
): Promise<Spawned> {
  const bin = toolPath(tool, o.env);
  const [cmd, argv] = owner ? ['runuser', ['-u', userName(owner.uid), '--', bin, ...args]] : [bin, args];
  return spawnProcess(cmd, argv, { signal: o.signal, env: serverEnv(o.env), stdout: o.stdout });
}

/** Runs a server program as a data directory's owner to completion; never rejects on its exit code. */
export function runToolAs(
  owner: Owner | undefined,
  tool: 'initdb' | 'pg_ctl' | 'postgres' | 'pg_controldata',
  args: string[],
  o: { env: Readonly<Record<string, string | undefined>>; signal: AbortSignal },
): Promise<ProcessResult> {
  const bin = toolPath(tool, o.env);
  const [cmd, argv] = owner ? ['runuser', ['-u', userName(owner.uid), '--', bin, ...args]] : [bin, args];
  return runProcess(cmd, argv, { signal: o.signal, env: serverEnv(o.env) });
}
