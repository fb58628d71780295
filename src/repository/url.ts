import path from 'node:path';
import { UsageError } from '../errors.js';

// Repository locations: file:///abs/path (or a plain path) and s3://bucket/prefix.

export type RepoLocation = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string };

export function parseRepoUrl(url: string, what = '--repo'): RepoLocation {
  const u = url.trim();
  if (!u) throw new UsageError('usage.repo', `${what}: empty repository URL (use file:///path or s3://bucket/prefix)`);
  if (u.startsWith('file://')) {
    const p = decodeURIComponent(u.slice('file://'.length));
    if (!p.startsWith('/')) throw new UsageError('usage.repo', `${what} ${u}: file URLs need an absolute path (file:///var/backups/drctl)`);
    return { kind: 'file', path: path.resolve(p) };
  }
  if (u.startsWith('s3://')) {
    const rest = u.slice('s3://'.length);
    // user:password@bucket: nothing of it is echoed (a secret key may hold '/' and '@').
    const at = rest.indexOf('@');
    if (at >= 0 && rest.slice(0, at).includes(':')) {
      throw new UsageError('usage.repo', `${what} s3://…: an s3:// URL takes no user or password (it ends up in shell history, process lists and logs); give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
    }
    const [bucket, ...prefix] = rest.split('/');
    if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      // A bucket is never a secret, but a name with ':' or '@' may be part of one.
      const shown = /[:@]/.test(bucket ?? '') ? 's3://…' : `${u}: "${bucket ?? ''}"`;
      throw new UsageError('usage.repo', `${what} ${shown} is not a valid S3 bucket name`);
    }
    return { kind: 's3', bucket, prefix: prefix.filter(Boolean).join('/') };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    // The scheme only: the rest may hold a user and password.
    throw new UsageError('usage.repo', `${what} ${u.slice(0, u.indexOf('://'))}://…: unsupported scheme (use file:///path or s3://bucket/prefix)`);
  }
  return { kind: 'file', path: path.resolve(u) };
}
