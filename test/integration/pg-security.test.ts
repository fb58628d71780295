import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, giveToPostgres, PG_BIN, startPostgres, type PgServer } from '../support/postgres.js';

// TLS means what libpq says, checked against a real PostgreSQL with ssl = on, hostssl-only
// pg_hba.conf and certificates made here (a right CA and a wrong one); for every case drctl and
// pg_dump, given the same URL and environment, must agree. Then postgres.copyRows over that
// server: a `where` can select rows, but cannot run anything.

const run = promisify(execFile);
const root = tempDir('drctl-pgsec-');
const home = path.join(root, 'home'); // no ~/.postgresql: defaults must not leak in
const certs = path.join(root, 'certs');
const file = (n: string) => path.join(certs, n);
let pg: PgServer;

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

async function makeCa(name: string): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', `/CN=drctl test ${name}`]);
}

async function makeCert(name: string, cn: string, ca: string, ext?: string): Promise<void> {
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`]);
  const args = ['x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial', '-out', file(`${name}.crt`), '-days', '2'];
  if (ext) {
    writeFileSync(file(`${name}.ext`), `${ext}\n`);
    args.push('-extfile', file(`${name}.ext`));
  }
  await openssl(args);
  chmodSync(file(`${name}.key`), 0o600);
}

beforeAll(async () => {
  mkdirSync(home);
  mkdirSync(certs);
  await makeCa('right-ca');
  await makeCa('wrong-ca');
  await makeCert('server', 'localhost', 'right-ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  await makeCert('client', 'certuser', 'right-ca');
  pg = await startPostgres({ settings: { listen_addresses: "'127.0.0.1,127.0.0.2'" } });
  for (const f of ['server.crt', 'server.key', 'right-ca.crt']) {
    copyFileSync(file(f), path.join(pg.dataDir, f));
    chmodSync(path.join(pg.dataDir, f), 0o600);
    giveToPostgres(path.join(pg.dataDir, f));
  }
  pg.configure({ ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'", ssl_ca_file: "'right-ca.crt'" });
  // TLS only over TCP: a plain connection is turned away, as on a server that means it.
  writeFileSync(
    path.join(pg.dataDir, 'pg_hba.conf'),
    ['local all all trust', 'hostssl all certuser 127.0.0.0/8 cert', 'hostssl all all 127.0.0.0/8 scram-sha-256', ''].join('\n'),
  );
  await pg.restart();
  await pg.sql('create user certuser');
}, 120_000);

afterAll(async () => {
  await destroyPostgres(pg);
  rmSync(root, { recursive: true, force: true });
});

const PING = (() => {
  const f = path.join(root, 'ping.yaml');
  writeFileSync(f, ['apiVersion: drctl/v1', 'name: ping', 'inputs: { url: { required: true } }', 'steps:', '  - id: ping', '    uses: postgres.ping', '    with: { url: "${inputs.url}" }'].join('\n'));
  return f;
})();

function url(host: string, params: Record<string, string>, user = `postgres:${encodeURIComponent(pg.password)}`): string {
  const q = new URLSearchParams(params).toString();
  return `postgres://${user}@${host}:${pg.port}/postgres${q ? `?${q}` : ''}`;
}

/** Does drctl connect? Does pg_dump? Same URL, same environment. */
async function both(u: string, env: Record<string, string> = {}): Promise<{ drctl: boolean; pgDump: boolean; message: string }> {
  const r = await drctl(['run', PING, '--var', `url=${u}`], { env: { HOME: home, PGSSLMODE: undefined, PGSSLROOTCERT: undefined, PGSSLCERT: undefined, PGSSLKEY: undefined, ...env } });
  let pgDump = true;
  try {
    await run(path.join(PG_BIN, 'pg_dump'), ['--schema-only', '-d', u], { env: { PATH: process.env.PATH ?? '', HOME: home, ...env } });
  } catch {
    pgDump = false;
  }
  return { drctl: r.code === 0, pgDump, message: r.all };
}

describe('TLS follows libpq sslmode semantics (drctl and pg_dump agree)', () => {
  const cases: [string, () => [string, Record<string, string>?], boolean][] = [
    ['verify-full with the right CA connects', () => [url('127.0.0.1', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt') })], true],
    ['verify-full by name (localhost) with the right CA connects', () => [url('localhost', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt') })], true],
    ['verify-ca with the wrong CA fails', () => [url('127.0.0.1', { sslmode: 'verify-ca', sslrootcert: file('wrong-ca.crt') })], false],
    ['verify-full with a host name the certificate does not name fails', () => [url('127.0.0.2', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt') })], false],
    ['verify-ca does not check the host name', () => [url('127.0.0.2', { sslmode: 'verify-ca', sslrootcert: file('right-ca.crt') })], true],
    ['require connects without a CA', () => [url('127.0.0.1', { sslmode: 'require' })], true],
    ['require with a root certificate verifies the chain, like verify-ca', () => [url('127.0.0.1', { sslmode: 'require', sslrootcert: file('wrong-ca.crt') })], false],
    ['disable against hostssl-only pg_hba.conf fails', () => [url('127.0.0.1', { sslmode: 'disable' })], false],
    ['prefer (the default) uses TLS', () => [url('127.0.0.1', {})], true],
    ['allow falls back to TLS when the server insists', () => [url('127.0.0.1', { sslmode: 'allow' })], true],
    ['PGSSLMODE and PGSSLROOTCERT apply to a URL without settings', () => [url('127.0.0.1', {}), { PGSSLMODE: 'verify-full', PGSSLROOTCERT: file('right-ca.crt') }], true],
    ['PGSSLROOTCERT naming the wrong CA fails', () => [url('127.0.0.1', {}), { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: file('wrong-ca.crt') }], false],
    ['a client certificate (sslcert/sslkey) authenticates', () => [url('127.0.0.1', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt'), sslcert: file('client.crt'), sslkey: file('client.key') }, 'certuser')], true],
    ['PGSSLCERT/PGSSLKEY authenticate too', () => [url('127.0.0.1', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt') }, 'certuser'), { PGSSLCERT: file('client.crt'), PGSSLKEY: file('client.key') }], true],
    ['without the client certificate, cert auth fails', () => [url('127.0.0.1', { sslmode: 'verify-full', sslrootcert: file('right-ca.crt') }, 'certuser')], false],
  ];
  it('a bad sslmode, or a weak one with sslrootcert=system, is a usage error (exit 2, one line)', async () => {
    for (const params of [{ sslmode: 'verify-fully' }, { sslmode: 'require', sslrootcert: 'system' }, { sslmode: 'verify-ca', sslrootcert: file('missing.crt') }]) {
      const r = await drctl(['run', PING, '--var', `url=${url('127.0.0.1', params)}`], { env: { HOME: home } });
      expect(r.code, r.all).toBe(2);
      expect(r.all).toMatch(/sslmode|sslrootcert|root certificate/);
    }
  });

  for (const [name, make, ok] of cases) {
    it(name, async () => {
      const [u, env] = make();
      const r = await both(u, env);
      expect(r.pgDump, `pg_dump, ${name}`).toBe(ok);
      expect(r.drctl, r.message).toBe(ok);
    });
  }
});

describe('postgres.copyRows: the where clause stays a condition', () => {
  const marker = path.join(root, 'open', 'pwned');
  const rb = path.join(root, 'copy.yaml');

  beforeAll(async () => {
    // Writable by everyone, so a payload run by psql (root) or by the server (postgres) would show.
    mkdirSync(path.dirname(marker));
    chmodSync(path.dirname(marker), 0o777);
    for (const db of ['live', 'recovered']) {
      await pg.sql(`create database ${db}`);
      await pg.sql('create table orders (id int primary key, item text)', db);
    }
    await pg.sql("insert into orders select g, 'item ' || g from generate_series(1, 20) g", 'recovered');
    await pg.sql("insert into orders select g, 'item ' || g from generate_series(1, 20) g where g % 5 <> 0", 'live');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: copy',
        'inputs: { from: { required: true }, to: { required: true }, where: { required: true } }',
        'steps:',
        '  - id: copy',
        '    uses: postgres.copyRows',
        '    with: { from: "${inputs.from}", to: "${inputs.to}", table: orders, where: "${inputs.where}" }',
      ].join('\n'),
    );
  });

  const tls = () => ({ sslmode: 'verify-full', sslrootcert: file('right-ca.crt') });
  const copy = (where: string) =>
    drctl(['--log-format', 'json', 'run', rb, '--var', `from=${url('127.0.0.1', tls()).replace('/postgres?', '/recovered?')}`, '--var', `to=${url('127.0.0.1', tls()).replace('/postgres?', '/live?')}`, '--var', `where=${where}`], { env: { HOME: home } });

  it('injection payloads run nothing and copy nothing', async () => {
    for (const payload of [
      `1=1) to program 'touch ${marker}' --`,
      `1=1) to stdout; copy (select 1) to program 'touch ${marker}'; --`,
      `1=1; copy (select 1) to program 'touch ${marker}'`,
      `1=1)) to program 'touch ${marker}' --`,
      `1=1\n) to program 'touch ${marker}' --`,
    ]) {
      const r = await copy(payload);
      expect(r.code, payload).not.toBe(0);
      expect(existsSync(marker), payload).toBe(false);
      expect(await pg.sql('select count(*) from orders', 'live')).toBe('16');
    }
  });

  it('a legitimate where clause copies the rows back over TLS', async () => {
    const r = await copy('id % 5 = 0 and item like $$item %$$ -- the deleted ones');
    expect(r.code, r.all).toBe(0);
    expect(r.all).toMatch(/copied 4 row\(s\) of orders/);
    expect(await pg.sql('select count(*) from orders', 'live')).toBe('20');
    expect(await pg.sql('select item from orders where id = 15', 'live')).toBe('item 15');
  });
});
