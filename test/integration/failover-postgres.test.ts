import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';
import { caughtUp, destroyStandby, PRIMARY_SETTINGS, startStandby } from '../support/standby.js';

// postgres.promote and postgres.replica.status against a real primary and streaming standbys
// made with pg_basebackup -R. Rows written on the primary that the standby never replayed are
// the data a failover loses: the promotion must count them exactly.

const PASSWORD = 'pg-failover-canary-61c3';

describe('postgres.promote and postgres.replica.status', () => {
  let primary: PgServer;
  let standbys: PgServer[] = [];
  let root: string;

  beforeAll(async () => {
    root = tempDir('drctl-promote-');
    primary = await startPostgres({ password: PASSWORD, settings: PRIMARY_SETTINGS });
    await primary.sql('create table orders (id serial primary key, note text)');
    await primary.sql("insert into orders (note) select 'before' from generate_series(1, 100)");
    standbys = await Promise.all([startStandby(primary), startStandby(primary)]);
    await Promise.all(standbys.map((s) => caughtUp(primary, s)));
  });
  afterAll(async () => {
    await Promise.all(standbys.map((s) => destroyStandby(s)));
    await destroyPostgres(primary);
    rmSync(root, { recursive: true, force: true });
  });

  /** Replication breaks: the standby's WAL receiver is gone, the primary keeps running. */
  async function cutReplication(s: PgServer): Promise<void> {
    await s.sql("alter system set primary_conninfo = ''");
    await s.sql('select pg_reload_conf()');
    for (let i = 0; i < 100 && (await s.sql('select count(*) from pg_stat_wal_receiver')) !== '0'; i++) await sleep(100);
  }

  let n = 0;
  async function step(uses: string, withYaml: string) {
    const file = path.join(root, `rb-${++n}.yaml`);
    writeFileSync(file, `apiVersion: drctl/v1\nname: promote\nsteps:\n  - id: s\n    uses: ${uses}\n    with: ${withYaml}\n`);
    const report = path.join(root, `r-${n}.json`);
    const r = await drctl(['--log-format', 'pretty', 'run', file, '--report', report], { env: { DRCTL_STATE_DIR: path.join(root, `state-${n}`) }, cwd: root });
    let outputs: Record<string, unknown> = {};
    try {
      outputs = (JSON.parse(readFileSync(report, 'utf8')) as { steps: { outputs: Record<string, unknown> }[] }).steps[0]?.outputs ?? {};
    } catch {
      // no report: the run failed before writing one
    }
    expect(r.all).not.toContain(PASSWORD);
    expect(JSON.stringify(outputs)).not.toContain(PASSWORD);
    return { ...r, outputs };
  }

  it('replica.status reports a streaming standby with no lag, and fails on a primary', async () => {
    const s = standbys[0] as PgServer;
    const ok = await step('postgres.replica.status', `{ url: "${s.url()}", maxLagSeconds: 30 }`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.outputs).toMatchObject({ inRecovery: true, state: 'streaming', lagBytes: 0, lagSeconds: 0, paused: false, walReceiver: 'streaming', timeline: 1 });
    expect(String(ok.outputs.replayLsn)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const notStandby = await step('postgres.replica.status', `{ url: "${primary.url()}" }`);
    expect(notStandby.code).toBe(1);
    expect(notStandby.stderr).toContain(`${primary.host}:${primary.port}/postgres is not a standby (not in recovery)`);
  });

  it('refuses to promote a server that is not a standby', async () => {
    const r = await step('postgres.promote', `{ url: "${primary.url()}" }`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a standby (not in recovery): refusing to promote');
    expect(await primary.sql('select pg_is_in_recovery()')).toBe('f');
  });

  it('refuses a standby whose replay lags beyond maxLagSeconds; force promotes it, replays what it received and counts the rows it never received exactly', async () => {
    const s = standbys[0] as PgServer;
    // A replayed commit gives the standby a last-replay time to measure the lag from.
    await primary.sql("insert into orders (note) values ('replayed')");
    await caughtUp(primary, s);
    await s.sql('select pg_wal_replay_pause()');
    await primary.sql("insert into orders (note) select 'received' from generate_series(1, 7)");
    await caughtUp(primary, s, 'receive');
    // The lag is the age of the last replayed commit while WAL waits: make it exceed 1 s.
    await sleep(1500);
    const status = await step('postgres.replica.status', `{ url: "${s.url()}", maxLagSeconds: 1 }`);
    expect(status.code).toBe(1);
    expect(status.stderr, status.stderr).toMatch(/replay lag [\d.]+ s exceeds 1 s/);

    const refused = await step('postgres.promote', `{ url: "${s.url()}", primary: "${primary.url()}", maxLagSeconds: 1 }`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replay lag [\d.]+ s exceeds maxLagSeconds 1: refusing to promote \(force: true promotes anyway/);
    expect(await s.sql('select pg_is_in_recovery()')).toBe('t');

    // Promotion replays what was received; only what never arrived is lost: resume, cut the
    // stream (a paused standby does not act on the change), write more.
    await s.sql('select pg_wal_replay_resume()');
    await caughtUp(primary, s);
    await cutReplication(s);
    await primary.sql("insert into orders (note) select 'lost' from generate_series(1, 3)");
    const forced = await step('postgres.promote', `{ url: "${s.url()}", primary: "${primary.url()}", maxLagSeconds: 1, force: true, countQuery: "select count(*) from orders" }`);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.outputs).toMatchObject({ promoted: true, timeline: 2, previousTimeline: 1, primaryReachable: true, rows: 108, rowsLost: 3 });
    expect(Number(forced.outputs.lostBytes)).toBeGreaterThan(0);
    expect(Number(forced.outputs.rpoSeconds)).toBeGreaterThan(1);
    expect(await s.sql('select pg_is_in_recovery()')).toBe('f');
    expect(await s.sql("select count(*) from orders where note = 'lost'")).toBe('0');
    // The promoted server takes writes.
    await s.sql("insert into orders (note) values ('after promotion')");
  });

  it('a standby whose replication broke is never "0 s behind": its lag is the age of its last replayed commit, and promotion is refused', async () => {
    const s = await startStandby(primary);
    standbys.push(s);
    await primary.sql("insert into orders (note) values ('seen by the new standby')");
    await caughtUp(primary, s);
    // Replication breaks (a rotated password, a dropped slot); the primary keeps taking writes.
    await cutReplication(s);
    await primary.sql("insert into orders (note) select 'missed' from generate_series(1, 4)");
    await sleep(2500);

    const status = await step('postgres.replica.status', `{ url: "${s.url()}", maxLagSeconds: 2 }`);
    expect(status.code).toBe(1);
    expect(status.stderr, status.stderr).toMatch(/replay lag [\d.]+ s \(not streaming: the last replayed commit is that old; what the primary wrote since is not here\) exceeds 2 s/);
    // The primary is not asked (it is the one that died, as far as this failover knows).
    const refused = await step('postgres.promote', `{ url: "${s.url()}", maxLagSeconds: 2 }`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replay lag [\d.]+ s \(not streaming: .*\) exceeds maxLagSeconds 2: refusing to promote/);
    expect(await s.sql('select pg_is_in_recovery()')).toBe('t');
  });

  it('with the primary lost, measures from the last replayed commit and counts rows against the primary’s last known count', async () => {
    const s = standbys[1] as PgServer;
    // Cut replication, then write: these rows never reach the standby.
    await cutReplication(s);
    const lastReplayed = await s.sql("select to_char(pg_last_xact_replay_timestamp() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')");
    await primary.sql("insert into orders (note) select 'unreplicated' from generate_series(1, 5)");
    const known = Number(await primary.sql('select count(*) from orders'));
    await primary.stop();

    const r = await step('postgres.promote', `{ url: "${s.url()}", primary: "${primary.url()}", countQuery: "select count(*) from orders", primaryRows: ${known} }`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('unreachable');
    expect(r.outputs).toMatchObject({ promoted: true, timeline: 2, primaryReachable: false, rowsLost: 5, rpoSeconds: null, lostBytes: null });
    expect(Date.parse(String(r.outputs.recoveryPoint))).toBe(Date.parse(`${lastReplayed.slice(0, 23)}Z`));
    expect(known - 5).toBe(r.outputs.rows);
  });
});
