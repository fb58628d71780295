import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { UsageError } from '../../errors.js';
import type { PgConn } from './conn.js';

// TLS for every pg connection drctl makes, with libpq's meaning of sslmode so drctl and pg_dump
// agree on the same URL:
//   disable     no TLS
//   allow       plain first; TLS when the server insists
//   prefer      TLS first (the default); plain when the server has no TLS
//   require     TLS; the server's certificate is checked only if a root certificate exists
//   verify-ca   TLS; the chain must lead to sslrootcert, any host name
//   verify-full TLS; the chain must lead to sslrootcert and the name must match the host
// As in libpq, a root certificate file that exists (sslrootcert, or ~/.postgresql/root.crt)
// makes every TLS mode verify the chain, and sslrootcert=system means the trusted CA store
// and allows only verify-full.

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];


/** What to do for one connection: `ssl` for the first try, `fallback` for the second (allow/prefer). */
export interface TlsPlan {
  mode: SslMode;
  first: ConnectionOptions | false;
  /** allow and prefer try the other way once when the first try is refused. */
  fallback?: ConnectionOptions | false;
}

/** Resolves a connection's TLS settings the way libpq does; throws UsageError on bad settings. */
export function tlsPlan(conn: PgConn, home = os.homedir()): TlsPlan {
  const given = conn.params.sslmode;
  if (given !== undefined && !(SSL_MODES as readonly string[]).includes(given)) {
    throw new UsageError('usage.sslmode', `sslmode "${given}" is not one of ${SSL_MODES.join(', ')}`);
  }
  // A Unix socket never uses TLS, whatever sslmode says (libpq ignores it there too).
  if (conn.host.startsWith('/')) return { mode: 'disable', first: false };
  const rootParam = conn.params.sslrootcert;
  const system = rootParam === 'system';
  const mode: SslMode = (given as SslMode | undefined) ?? (system ? 'verify-full' : 'prefer');
  if (mode === 'disable') return { mode, first: false };
  if (system && mode !== 'verify-full') {
    throw new UsageError('usage.sslmode', `sslmode "${mode}" may not be used with sslrootcert=system (use verify-full)`);
  }

  const dir = path.join(home, '.postgresql');
  const rootFile = system ? undefined : (rootParam ?? path.join(dir, 'root.crt'));
  const haveRoot = rootFile !== undefined && existsSync(rootFile);
  const verifying = mode === 'verify-ca' || mode === 'verify-full';
  if (verifying && !system && !haveRoot) {
    throw new UsageError('usage.sslrootcert', `sslmode=${mode} needs a root certificate: ${rootFile} does not exist (set sslrootcert, or use sslmode=require to encrypt without verifying)`
    );
  }
  const opts: ConnectionOptions = {};
  if (haveRoot) opts.ca = readPem(rootFile as string, 'sslrootcert');
  // The chain is verified whenever there is something to verify it against, as libpq does;
  // require/prefer/allow without a root certificate encrypt without authenticating the server.
  const verifyChain = system || haveRoot;
  opts.rejectUnauthorized = verifyChain;
  // verify-full checks the host name (Node's default check); below it, any name will do.
  if (mode !== 'verify-full') opts.checkServerIdentity = () => undefined;

  const certFile = conn.params.sslcert ?? path.join(dir, 'postgresql.crt');
  const keyFile = conn.params.sslkey ?? path.join(dir, 'postgresql.key');
  if (existsSync(certFile)) {
    opts.cert = readPem(certFile, 'sslcert');
    if (!existsSync(keyFile)) throw new UsageError('usage.sslkey', `sslcert ${certFile} has no key: ${keyFile} does not exist`);
    opts.key = readPem(keyFile, 'sslkey');
    if (conn.params.sslpassword) opts.passphrase = conn.params.sslpassword;
  } else if (conn.params.sslcert !== undefined) {
    throw new UsageError('usage.sslcert', `sslcert ${certFile} does not exist`);
  }
  if (conn.params.sslcrl && existsSync(conn.params.sslcrl)) opts.crl = readPem(conn.params.sslcrl, 'sslcrl');

  if (mode === 'allow') return { mode, first: false, fallback: opts };
  if (mode === 'prefer') return { mode, first: opts, fallback: false };
  return { mode, first: opts };
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`usage.${what}`, `${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * True when a failed first try of allow/prefer is retried the other way. libpq retries once
 * after any failure of the handshake or of authentication (prefer: TLS refused, certificate
 * rejected, pg_hba.conf turned the TLS connection down; allow: a plain connection turned down),
 * so drctl does too; an unreachable server is not worth a second try.
 */
export function shouldFallBack(plan: TlsPlan, err: unknown): boolean {
  if (plan.fallback === undefined) return false;
  const code = (err as { code?: string }).code ?? '';
  return !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) && !/timeout/i.test(String((err as Error)?.message ?? ''));
}
