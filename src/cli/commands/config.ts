import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Action } from '../program.js';
import { secrets } from '../../redact.js';
import { BUILT_IN_RUNBOOKS } from '../../config.js';
import { formatTable } from '../../report/table.js';

// drctl config: the settings drctl would use here and now, and where each came from — the
// config file (and which one), an environment variable (the real environment or the env
// file), a flag, or the default — so "why does cron back up to the wrong bucket" has an answer.
// Values pass through redaction; keys and tokens are shown only as set or not set.

export interface Setting {
  value: string | boolean | null;
  from: string;
}

export function registerConfig(program: Command, act: Action): void {
  program
    .command('config')
    .option('--json', 'print as JSON')
    .action(
      act(async (ctx, o: { json?: boolean }) => {
        const s = effectiveSettings(ctx, BUILT_IN_RUNBOOKS);
        const file = ctx.configSource;
        const envFile = ctx.globals.envFile !== undefined ? path.resolve(ctx.globals.envFile) : existsSync('.env') ? path.resolve('.env') : null;
        if (o.json) {
          const doc = { configFile: { path: file.file ?? null, from: file.from, searched: file.searched }, envFile, settings: s };
          process.stdout.write(secrets.redact(`${JSON.stringify(doc, null, 2)}\n`));
          return 0;
        }
        const lines = [
          file.file ? `config file: ${file.file} (${describeSource(file.from)})` : `config file: none (looked in ${file.searched.join(', ')})`,
          `env file:    ${envFile ?? 'none'}`,
          '',
          // Redacted cell by cell, so the columns stay aligned.
          formatTable(['setting', 'value', 'from'], Object.entries(s).map(([k, v]) => [k, v.value === null ? '-' : secrets.redact(String(v.value)), v.from])),
        ];
        process.stdout.write(secrets.redact(lines.join('\n')));
        return 0;
      }),
    );
}

function describeSource(from: string): string {
  switch (from) {
    case '--config':
      return 'named by --config';
    case 'DRCTL_CONFIG':
      return 'named by DRCTL_CONFIG';
    case 'working directory':
      return 'drctl.yaml in the working directory';
    case 'XDG_CONFIG_HOME':
      return 'the user config directory';
    default:
      return 'the system config directory';
  }
}

/** Every setting with its value and origin; the first that is set wins, as drctl itself reads them. */
export function effectiveSettings(ctx: Pick<CliContext, 'env' | 'config' | 'configSource' | 'globals' | 'logFormat' | 'logLevel' | 'stateDir'>, builtIns: readonly string[]): Record<string, Setting> {
  const { env, config } = ctx;
  const fromFile = 'config file';
  const envFrom = (name: string) => (process.env[name] !== undefined ? `env ${name}` : `env ${name} (env file)`);
  /** The first candidate with a value: [value, from] pairs; the last may be the default. */
  const first = (...candidates: [unknown, string][]): Setting => {
    for (const [v, from] of candidates) if (v !== undefined && v !== '') return { value: typeof v === 'boolean' ? v : String(v), from };
    return { value: null, from: 'not set' };
  };
  const fileOr = (v: unknown) => [v, fromFile] as [unknown, string];
  const envOr = (name: string) => [env[name], envFrom(name)] as [unknown, string];
  /** A secret is never shown, not even redacted: only whether it is set. */
  const secret = (...names: string[]): Setting => {
    const name = names.find((n) => env[n]);
    return name ? { value: 'set (hidden)', from: envFrom(name) } : { value: null, from: 'not set' };
  };
  const customEndpoint = config.s3?.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const out: Record<string, Setting> = {
    repo: first(fileOr(config.repo), envOr('DRCTL_REPO')),
    source: first(fileOr(config.source), envOr('DATABASE_URL'), [env.PGHOST ? 'libpq PG* variables' : undefined, 'env PGHOST, PGPORT, PGUSER, PGDATABASE']),
    redis: first(fileOr(config.redis), envOr('REDIS_URL')),
    // The value drctl uses, and the same test for where it came from as stateDir() applies.
    stateDir: {
      value: ctx.stateDir,
      from: config.stateDir !== undefined ? fromFile : env.DRCTL_STATE_DIR !== undefined ? envFrom('DRCTL_STATE_DIR') : env.XDG_STATE_HOME !== undefined ? 'default ($XDG_STATE_HOME/drctl)' : 'default (~/.local/state/drctl)',
    },
    'targets.rto': first(fileOr(config.targets?.rto), ["the runbook's own", 'default']),
    'targets.rpo': first(fileOr(config.targets?.rpo), ["the runbook's own (verify-backups --max-age: 24h)", 'default']),
    versionedBucket: first(fileOr(config.versionedBucket), envOr('DRCTL_VERSIONED_BUCKET')),
    versionRetention: first(fileOr(config.versionRetention)),
    encryptionKey: secret('DRCTL_ENCRYPTION_KEY', 'DRCTL_ENCRYPTION_KEY_FILE'),
    's3.endpoint': first(fileOr(config.s3?.endpoint), envOr('AWS_ENDPOINT_URL_S3'), envOr('AWS_ENDPOINT_URL'), ['AWS', 'default']),
    's3.region': first(fileOr(config.s3?.region), envOr('AWS_REGION'), envOr('AWS_DEFAULT_REGION'), ['us-east-1', 'default']),
    's3.forcePathStyle': first(fileOr(config.s3?.forcePathStyle), [env.DRCTL_S3_VIRTUAL_HOSTED === '1' ? false : undefined, envFrom('DRCTL_S3_VIRTUAL_HOSTED')], [customEndpoint !== undefined, 'default (on with a custom endpoint)']),
    's3.checksums': first(fileOr(config.s3?.checksums), envOr('DRCTL_S3_CHECKSUMS'), [customEndpoint ? 'when_required' : 'when_supported', 'default']),
    's3.credentials': secret('AWS_ACCESS_KEY_ID', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE'),
    notifyWebhook: secret('DRCTL_NOTIFY_WEBHOOK'),
    oncallPhone: first(envOr('ONCALL_PHONE')),
    twilio: secret('TWILIO_AUTH_TOKEN', 'TWILIO_API_SECRET'),
    vapi: secret('VAPI_API_KEY'),
    logFormat: ctx.globals.logFormat !== undefined ? { value: ctx.logFormat, from: '--log-format' } : { value: ctx.logFormat, from: 'default (pretty on a TTY, json otherwise)' },
    logLevel: { value: ctx.logLevel, from: ctx.globals.logLevel !== undefined && ctx.globals.logLevel !== 'info' ? '--log-level' : 'default' },
    progressInterval: first(envOr('DRCTL_PROGRESS_INTERVAL'), ['10s', 'default']),
  };
  for (const name of builtIns) {
    const file = config.runbooks?.[name as keyof NonNullable<typeof config.runbooks>];
    out[`runbooks.${name}`] = file !== undefined ? { value: file, from: fromFile } : { value: 'shipped', from: 'default' };
  }
  return out;
}
