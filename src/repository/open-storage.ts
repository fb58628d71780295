import { UsageError } from '../errors.js';
import type { Storage } from './storage.js';
import { FileStorage } from './storage/file.js';
import { parseRepoUrl } from './url.js';

// Picks the driver for a repository URL; S3 settings come from config, then environment.

export interface StorageSettings {
  env: Readonly<Record<string, string | undefined>>;
  config: Readonly<Record<string, unknown>>;
}

/**
 * A whole number from the environment, `min` or more; unset or empty (as a copied .env.example
 * leaves it) gives the default. A bad value is refused in one line.
 */
function whole(env: StorageSettings['env'], name: string, fallback: number, min: number, unit: string): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') return fallback;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new UsageError('usage.s3', `${name}=${v}: a whole number of ${unit}, ${min} or more`);
  return Number(v);
}

export async function openStorage(url: string, s: StorageSettings): Promise<Storage> {
  const loc = parseRepoUrl(url);
  if (loc.kind === 'file') return new FileStorage(loc.path);
  const { S3Storage } = await import('./storage/s3.js');
  const cfg = (s.config.s3 ?? {}) as { endpoint?: string; region?: string; forcePathStyle?: boolean; checksums?: string };
  // An empty variable (as a copied .env.example leaves it) means no custom endpoint.
  const endpoint = cfg.endpoint || s.env.AWS_ENDPOINT_URL_S3 || s.env.AWS_ENDPOINT_URL || undefined;
  const checksums = (cfg.checksums ?? s.env.DRCTL_S3_CHECKSUMS ?? (endpoint ? 'when_required' : 'when_supported')).toLowerCase();
  if (checksums !== 'when_required' && checksums !== 'when_supported') {
    throw new UsageError('usage.s3', `DRCTL_S3_CHECKSUMS=${checksums}: use when_required or when_supported`);
  }
  return new S3Storage({
    bucket: loc.bucket,
    prefix: loc.prefix,
    endpoint,
    region: cfg.region ?? s.env.AWS_REGION ?? s.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: cfg.forcePathStyle ?? (s.env.DRCTL_S3_VIRTUAL_HOSTED === '1' ? false : endpoint !== undefined),
    checksums: checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    accessKeyId: s.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: s.env.AWS_SECRET_ACCESS_KEY,
    sessionToken: s.env.AWS_SESSION_TOKEN,
    maxAttempts: whole(s.env, 'DRCTL_S3_MAX_ATTEMPTS', 8, 1, 'attempts'),
    partSize: whole(s.env, 'DRCTL_S3_PART_MB', 16, 5, 'MB') * 1024 * 1024,
    queueSize: 4,
    connectTimeoutMs: whole(s.env, 'DRCTL_S3_CONNECT_TIMEOUT', 10, 1, 'seconds') * 1000,
    idleTimeoutMs: whole(s.env, 'DRCTL_S3_IDLE_TIMEOUT', 60, 1, 'seconds') * 1000,
  });
}
