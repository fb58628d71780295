import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../package-root.js';
import type { RecoveryTarget } from '../../pitr/select.js';
import type { Repository } from '../../repository/repository.js';
import { toPostgresTime } from '../../time/time-point.js';
import type { ActionContext } from '../types.js';
import { withoutRecoverySettings } from './auto-conf.js';
import { showSetting } from './cluster.js';
import type { Owner } from './owner.js';

// How a restored data directory recovers: restore_command (spool first, then drctl wal-fetch
// with credentials kept outside the data directory), the target, and for test restores a
// server nobody but drctl's own OS user can reach.

export interface RecoverySettings {
  backupId: string;
  timeline?: number;
  immediate?: boolean;
  port?: number;
  archive?: boolean;
  privateSocketDir?: string;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A 0700 directory beside the data directory for the credentials restore_command needs: inside
 * PGDATA, the next base backup would copy them. A temp directory when the parent is not ours.
 */
export async function credentialsDir(targetDir: string): Promise<string> {
  try {
    return await mkdtemp(path.join(path.dirname(targetDir), `.${path.basename(targetDir)}.drctl-`));
  } catch {
    return mkdtemp(path.join(os.tmpdir(), 'drctl-restore-env-'));
  }
}

/**
 * archive_mode and archive_command as the restored server will see them. The command itself is
 * never quoted (it may carry credentials): only whether it runs drctl's wal-push.
 */
export async function archivingAsConfigured(ctx: ActionContext, dir: string, own: Owner | undefined): Promise<string> {
  const show = async (name: string) => (await showSetting(ctx, dir, own, name)) ?? '?';
  const mode = await show('archive_mode');
  if (mode === 'off') return 'off';
  const command = await show('archive_command');
  return `archive_mode ${mode}, archive_command ${command.includes('wal-push') ? 'runs drctl wal-push' : 'does not run drctl wal-push'}`;
}

const PASSED = [
  'PATH',
  'DRCTL_ENCRYPTION_KEY',
  'DRCTL_ENCRYPTION_KEY_FILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL',
  'DRCTL_S3_CHECKSUMS',
  'DRCTL_S3_VIRTUAL_HOSTED',
  'DRCTL_S3_MAX_ATTEMPTS',
  'DRCTL_S3_CONNECT_TIMEOUT',
  'DRCTL_S3_IDLE_TIMEOUT',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
  'DRCTL_PAUSE',
];

/**
 * What wal-fetch needs to reach the repository as this restore does. It runs under the server,
 * with no config file of drctl's invoking user (--config, DRCTL_CONFIG, the working directory:
 * none of them is where the server runs it, and the file may not be readable by the server's
 * user): the config file's S3 settings travel as the variables that mean the same, over any
 * set in the environment, as the config file wins over them here too.
 */
function fetchEnv(ctx: ActionContext, url: string): Record<string, string> {
  const env: Record<string, string> = { DRCTL_REPO: url };
  for (const k of PASSED) if (ctx.env[k] !== undefined) env[k] = ctx.env[k]!;
  const s3 = (ctx.config.s3 ?? {}) as { endpoint?: string; region?: string; forcePathStyle?: boolean; checksums?: string };
  if (s3.endpoint) env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  if (s3.region) env.AWS_REGION = s3.region;
  if (s3.checksums) env.DRCTL_S3_CHECKSUMS = s3.checksums;
  if (s3.forcePathStyle === false) env.DRCTL_S3_VIRTUAL_HOSTED = '1';
  else if (s3.forcePathStyle === true) delete env.DRCTL_S3_VIRTUAL_HOSTED;
  return env;
}

export async function writeRecoveryConfig(ctx: ActionContext, repo: Repository, dir: string, spool: string, secretsDir: string, target: RecoveryTarget, i: RecoverySettings): Promise<void> {
  // What wal-fetch needs under the server, in a file only the server's user can read.
  const envFile = path.join(secretsDir, 'drctl.env');
  const env = fetchEnv(ctx, repo.url);
  if (env.AWS_ACCESS_KEY_ID === undefined && 'credentialsEnv' in repo.storage) {
    Object.assign(env, await (repo.storage as import('../../repository/storage/s3.js').S3Storage).credentialsEnv());
  }
  await writeFile(envFile, `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`, { mode: 0o600 });
  const cli = path.join(packageRoot(), 'dist', 'cli.js');
  const fetchCmd = `${shq(process.execPath)} ${shq(cli)} --env-file ${shq(envFile)} wal-fetch %f "%p"`;
  const restoreCommand = `test -f ${shq(spool)}/%f && mv ${shq(spool)}/%f "%p" || ${fetchCmd}`;
  const settings: Record<string, string> = {
    restore_command: restoreCommand,
    recovery_target_action: 'promote',
    recovery_target_timeline: i.timeline !== undefined ? String(i.timeline) : 'latest',
  };
  if (target !== 'latest') settings.recovery_target_time = toPostgresTime(target);
  else if (i.immediate) settings.recovery_target = 'immediate';
  if (i.port !== undefined) settings.port = String(i.port);
  if (i.archive === false) settings.archive_mode = 'off';
  if (i.privateSocketDir) {
    // Only drctl's own OS user gets in, over the private socket: no TCP, no trust, and none of
    // the source's own rules (which may trust every local user).
    await mkdir(i.privateSocketDir, { recursive: true, mode: 0o700 });
    await chmod(i.privateSocketDir, 0o700);
    settings.unix_socket_directories = i.privateSocketDir;
    settings.listen_addresses = '';
    const hba = path.join(dir, 'pg_hba.conf');
    const ident = path.join(dir, 'pg_ident.conf');
    await writeFile(hba, '# drctl test restore: drctl\'s own OS user only, as postgres, by peer authentication\nlocal all postgres peer map=drctl\n', { mode: 0o600 });
    await writeFile(ident, `drctl ${os.userInfo().username} postgres\n`, { mode: 0o600 });
    settings.hba_file = hba;
    settings.ident_file = ident;
  }
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  // The source's own recovery settings (it may itself have been restored, by drctl or not) are
  // not this restore's: a target it left would win over none of ours (`latest`).
  const auto = path.join(dir, 'postgresql.auto.conf');
  const inherited = withoutRecoverySettings(await readFile(auto, 'utf8').catch(() => '')).trimEnd();
  await writeFile(auto, `${inherited}\n\n# drctl restore of ${i.backupId}\n${conf.join('\n')}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'recovery.signal'), '');
}
