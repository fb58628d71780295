import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { z } from 'zod';
import { UsageError } from './errors.js';
import { secrets } from './redact.js';
import { cjsExports } from './cjs-exports.js';

// Settings come from flags, then the config file (drctl.yaml), then the environment
// (real environment over --env-file). This module finds and loads the latter two.

/** The shipped runbooks that built-in commands run; drctl.yaml `runbooks:` may replace each. */
export const BUILT_IN_RUNBOOKS = ['backup', 'restore', 'pitr-restore', 'standby-restore', 'verify-backups', 'health', 'rollback', 'redis-backup', 'redis-restore', 's3-restore', 'supabase-pitr', 'render-pitr'] as const;
export type BuiltInRunbook = (typeof BUILT_IN_RUNBOOKS)[number];

// zod and yaml load only when a config file exists: wal-push runs once per WAL segment.
async function configSchema() {
  const { z } = await import('zod');
  return z.strictObject({
  repo: z.string().optional().meta({ description: 'Repository URL: file:///path or s3://bucket/prefix' }),
  source: z.string().optional().meta({ description: 'PostgreSQL URL to back up' }),
  redis: z.string().optional(),
  stateDir: z.string().optional(),
  runbooks: z
    .strictObject(Object.fromEntries(BUILT_IN_RUNBOOKS.map((n) => [n, z.string().optional()])))
    .optional()
    .meta({ description: 'Runbooks the built-in commands run instead of the shipped ones (paths relative to this file)' }),
  compress: z.enum(['zstd', 'gzip', 'none']).optional().meta({ description: 'How new backup objects and WAL are compressed (default zstd)' }),
  compressLevel: z.number().int().nonnegative().optional().meta({ description: 'Compression level (zstd 1-19, default 3; gzip 1-9, default 6)' }),
  targets: z.strictObject({ rto: z.string().optional(), rpo: z.string().optional() }).optional(),
  versionedBucket: z.string().optional().meta({ description: 'Versioned S3 prefix (s3://bucket/prefix) that verify-backups and health check for versioning and lifecycle rules' }),
  versionRetention: z.string().optional().meta({ description: 'How long that prefix must keep old versions (e.g. 30d): a lifecycle rule expiring them sooner fails the check' }),
  s3: z
    .strictObject({
      endpoint: z.string().optional(),
      region: z.string().optional(),
      forcePathStyle: z.boolean().optional(),
      checksums: z.enum(['when_supported', 'when_required']).optional(),
    })
    .optional(),
  });
}
export type Config = Omit<z.output<Awaited<ReturnType<typeof configSchema>>>, 'runbooks'> & {
  runbooks?: Partial<Record<BuiltInRunbook, string>>;
};

/** Reads the env file (explicit: must exist; default ./.env: only if present). Real env wins. */
export async function loadEnv(file: string | undefined, cwd = process.cwd()): Promise<Record<string, string | undefined>> {
  const target = file ?? path.join(cwd, '.env');
  let fromFile: Record<string, string> = {};
  if (file !== undefined || existsSync(target)) {
    let text: string;
    try {
      text = await readFile(target, 'utf8');
    } catch {
      throw new UsageError('usage.envFile', `--env-file ${target}: cannot read it`);
    }
    fromFile = parseEnv(text) as Record<string, string>;
  }
  const env = { ...fromFile, ...process.env };
  secrets.addFromEnv(env);
  return env;
}

/** Where the config file came from: a flag, an environment variable, or a place looked in. */
export interface ConfigSource {
  file?: string;
  from: '--config' | 'DRCTL_CONFIG' | 'working directory' | 'XDG_CONFIG_HOME' | 'system' | 'none';
  /** The places looked in, in order, when none was named. */
  searched: string[];
}

/**
 * The config file: --config, then DRCTL_CONFIG (both must exist), then the first that exists of
 * ./drctl.yaml, $XDG_CONFIG_HOME/drctl/config.yaml (default ~/.config) and /etc/drctl/drctl.yaml.
 * DRCTL_SYSCONF_DIR replaces /etc/drctl, so packagers and tests need not touch the real /etc.
 */
export function findConfig(flag: string | undefined, env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): ConfigSource {
  if (flag !== undefined) return { file: path.resolve(cwd, flag), from: '--config', searched: [] };
  if (env.DRCTL_CONFIG) return { file: path.resolve(cwd, env.DRCTL_CONFIG), from: 'DRCTL_CONFIG', searched: [] };
  const home = env.HOME || os.homedir();
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  const places: [string, ConfigSource['from']][] = [
    [path.join(cwd, 'drctl.yaml'), 'working directory'],
    [path.join(xdg, 'drctl', 'config.yaml'), 'XDG_CONFIG_HOME'],
    [path.join(env.DRCTL_SYSCONF_DIR || '/etc/drctl', 'drctl.yaml'), 'system'],
  ];
  const searched = places.map(([p]) => p);
  for (const [file, from] of places) if (existsSync(file)) return { file, from, searched };
  return { from: 'none', searched };
}

/** Reads the config file findConfig chooses; one named by --config or DRCTL_CONFIG must exist. */
export async function loadConfig(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
): Promise<Config> {
  return (await loadConfigWithSource(file, env, cwd)).config;
}

/** The config and the file it came from (`drctl config` shows both). */
export async function loadConfigWithSource(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
): Promise<{ config: Config; source: ConfigSource }> {
  const source = findConfig(file, env, cwd);
  const target = source.file;
  if (target === undefined) return { config: {}, source };
  const named = source.from === '--config' ? '--config ' : source.from === 'DRCTL_CONFIG' ? 'DRCTL_CONFIG=' : '';
  let raw: unknown;
  const { parse: parseYaml } = cjsExports(await import('yaml'), 'parse');
  try {
    raw = parseYaml(await readFile(target, 'utf8')) ?? {};
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError('usage.config', `${named}${target}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message.split('\n')[0]}`);
  }
  const r = (await configSchema()).safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i ? `${i.path.join('.')}${i.code === 'unrecognized_keys' ? `.${i.keys.join(',')}` : ''}` : '';
    throw new UsageError('usage.config', `${target}: ${where}: ${i?.code === 'unrecognized_keys' ? 'unknown key' : i?.message}`);
  }
  for (const v of Object.values(r.data)) if (typeof v === 'string') secrets.addUrlPasswords(v);
  const { runbooks, ...rest } = r.data;
  if (!runbooks) return { config: rest, source };
  // Paths in the file are relative to the file, not to wherever drctl happens to run.
  const dir = path.dirname(target);
  const resolved = Object.entries(runbooks).flatMap(([name, f]) => (typeof f === 'string' ? [[name, path.resolve(dir, f)]] : []));
  return { config: { ...rest, runbooks: Object.fromEntries(resolved) as Config['runbooks'] }, source };
}

/** Where run history and local state live. */
export function stateDir(config: Config, env: Record<string, string | undefined>): string {
  return config.stateDir ?? env.DRCTL_STATE_DIR ?? path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'drctl');
}
