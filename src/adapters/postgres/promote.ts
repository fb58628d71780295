import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction, type ActionContext } from '../types.js';
import { connect, type Db } from './client.js';
import { describeConn, parsePgUrl, type PgConn } from './conn.js';
import { lagNote, readReplicaStatus, type ReplicaStatus } from './replica-status.js';

// postgres.promote: pg_promote() over SQL (managed replicas that allow it work too), then the
// data lost, measured: the standby's last replayed commit against what the primary had, when the
// primary still answers; else against the last point the standby knows of. A standby that is
// far behind is refused unless forced: promoting it silently throws away everything it missed.

const Input = z.strictObject({
  url: z.string().optional().meta({ description: 'the standby to promote (default: DATABASE_URL / PG* variables)' }),
  primary: z.string().optional().meta({ description: "the old primary's URL: when it still answers, the data lost is measured against it" }),
  countQuery: z.string().optional().meta({ description: 'read-only SQL returning one number (e.g. select count(*) from orders): rows lost = primary − promoted' }),
  primaryRows: z.number().int().min(0).optional().meta({ description: 'the primary’s countQuery result from before it was lost, when it no longer answers' }),
  maxLagSeconds: z.number().min(0).default(60).meta({ description: 'refuse when the standby is further behind than this' }),
  force: z.boolean().default(false).meta({ description: 'promote despite excess lag' }),
  waitSeconds: z.number().int().min(1).max(3600).default(60).meta({ description: 'how long to wait for the server to leave recovery' }),
});

interface PrimaryView {
  lsn: string;
  now: Date;
  /** Commit time of the primary's last transaction, when track_commit_timestamp is on. */
  lastCommit: Date | null;
  rows?: number;
}

export const postgresPromote = defineAction({
  name: 'postgres.promote',
  summary: 'Promote a standby (pg_promote) and measure the data lost',
  input: Input,
  outputs: ['promoted', 'timeline', 'previousTimeline', 'promotedLsn', 'promotedAt', 'recoveryPoint', 'rpoSeconds', 'lostBytes', 'rowsLost', 'rows', 'primaryReachable', 'lagSeconds', 'figure'],
  describe: (i) => `promote the standby ${i.url ? '' : '(DATABASE_URL) '}with pg_promote()${i.force ? ' even if lagging' : `, refusing beyond ${i.maxLagSeconds}s of lag`}`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    const where = describeConn(conn);
    const db = await connect(conn, { signal: ctx.signal });
    try {
      const before = await settled(ctx, db, Math.min(i.waitSeconds, 15));
      if (!before.inRecovery) throw new OperationError('postgres.notStandby', `${where} is not a standby (not in recovery): refusing to promote`);
      // Runbooks pass optional inputs through as empty strings.
      const primaryUrl = i.primary?.trim() || undefined;
      const countQuery = i.countQuery?.trim() || undefined;
      const primary = primaryUrl ? await readPrimary(ctx, parsePgUrl(primaryUrl, ctx.env, 'primary'), countQuery) : undefined;
      const lagSeconds = lagOf(before, primary);
      // Without the primary, the standby's own figure: when it is not streaming, the age of its
      // last replayed commit (what it cannot see it may have missed), never "0".
      const note = primary ? '' : lagNote(before);
      ctx.log(`${where}: ${before.state}, replayed ${before.replayLsn}, lag ${lagSeconds === null ? 'unknown' : `${lagSeconds} s${note}`}${primary ? `, primary at ${primary.lsn}` : primaryUrl ? ', primary unreachable' : ''}`);
      if ((lagSeconds === null || lagSeconds > i.maxLagSeconds) && !i.force) {
        throw new OperationError(
          'postgres.promoteLag',
          `${where}: replay lag ${lagSeconds === null ? 'unknown (no transaction replayed yet)' : `${lagSeconds} s${note}`} exceeds maxLagSeconds ${i.maxLagSeconds}: refusing to promote (force: true promotes anyway and loses what was not replayed)`,
        );
      }
      const [p] = await db.query<{ ok: boolean }>('select pg_promote(true, $1) as ok', [i.waitSeconds]);
      if (!p?.ok) throw new OperationError('postgres.promote', `${where} did not leave recovery within ${i.waitSeconds} s`);
      const promotedAt = new Date().toISOString();
      // Promotion first replays all WAL already received, so the end of recovery (which these
      // functions keep reporting afterwards) is the point the data loss is measured from.
      const [after] = await db.query<{ rec: boolean; tli: string; replay: string | null; replay_ts: Date | null }>(
        `select pg_is_in_recovery() as rec, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) as tli,
                pg_last_wal_replay_lsn()::text as replay, pg_last_xact_replay_timestamp() as replay_ts`,
      );
      if (!after || after.rec) throw new OperationError('postgres.promote', `${where} is still in recovery after pg_promote()`);
      const end: ReplicaStatus = { ...before, replayLsn: after.replay ?? before.replayLsn, lastReplayAt: after.replay_ts?.toISOString() ?? before.lastReplayAt };
      const timeline = Number.parseInt(after.tli, 16);
      const rows = countQuery ? await countRows(db, countQuery) : undefined;
      const known = primary?.rows ?? i.primaryRows;
      const rowsLost = rows !== undefined && known !== undefined ? Math.max(0, known - rows) : null;
      const lostBytes = primary && end.replayLsn ? await lsnDiff(db, primary.lsn, end.replayLsn) : null;
      const { recoveryPoint, rpoSeconds } = dataLost(end, primary, lostBytes);
      const outputs = {
        promoted: true,
        timeline,
        previousTimeline: before.timeline,
        promotedLsn: end.replayLsn,
        promotedAt,
        recoveryPoint,
        rpoSeconds,
        lostBytes,
        rowsLost,
        rows: rows ?? null,
        primaryReachable: primary !== undefined,
        lagSeconds,
        figure: `timeline ${timeline}, RPO ${rpoSeconds === null ? 'unknown' : `${rpoSeconds} s`}${rowsLost !== null ? `, ${rowsLost} rows lost` : ''}`,
      };
      ctx.log(`${where} promoted to timeline ${timeline}: ${outputs.figure}`);
      return outputs;
    } finally {
      await db.close();
    }
  },
});

/**
 * The standby's status once it has replayed what it already received (promotion would replay it
 * anyway), so WAL still in flight when the primary died does not count as lag. A paused standby
 * is taken as it is.
 */
async function settled(ctx: ActionContext, db: Db, seconds: number): Promise<ReplicaStatus> {
  const until = performance.now() + seconds * 1000;
  let s = await readReplicaStatus(db);
  let still = 0;
  while (s.inRecovery && !s.paused && (s.lagBytes ?? 0) > 0 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const next = await readReplicaStatus(db);
    // Without a WAL receiver, replay that stops moving has reached a record cut off mid-way.
    still = next.replayLsn === s.replayLsn && next.walReceiver !== 'streaming' ? still + 1 : 0;
    s = next;
    if (still >= 5) break;
  }
  return s;
}

async function readPrimary(ctx: ActionContext, conn: PgConn, countQuery: string | undefined): Promise<PrimaryView | undefined> {
  let db: Db;
  try {
    db = await connect(conn, { signal: ctx.signal, timeoutMs: 5000 });
  } catch (err) {
    // A lost primary is the normal case for a failover: measure against the standby alone.
    ctx.log(`primary ${describeConn(conn)} unreachable (${(err as Error).message}); data loss measured from the standby alone`);
    return undefined;
  }
  try {
    const [r] = await db.query<{ rec: boolean; lsn: string | null; now: Date; tct: string }>(
      `select pg_is_in_recovery() as rec, case when not pg_is_in_recovery() then pg_current_wal_lsn()::text end as lsn, now() as now, current_setting('track_commit_timestamp') as tct`,
    );
    if (!r || r.rec || !r.lsn) throw new OperationError('postgres.primary', `${describeConn(conn)} is itself in recovery: it is not the primary`);
    let lastCommit: Date | null = null;
    if (r.tct === 'on') {
      const [c] = await db.query<{ ts: Date | null }>('select (pg_last_committed_xact()).timestamp as ts');
      lastCommit = c?.ts ?? null;
    }
    const rows = countQuery ? await countRows(db, countQuery) : undefined;
    return { lsn: r.lsn, now: r.now, lastCommit, rows };
  } finally {
    await db.close();
  }
}

/** Runs the count in a read-only transaction, so a mistyped query cannot change data. */
async function countRows(db: Db, sql: string): Promise<number> {
  await db.query('begin transaction read only');
  try {
    const rows = await db.query<Record<string, unknown>>(sql);
    const v = rows[0] ? Object.values(rows[0])[0] : undefined;
    const n = Number(v);
    if (v === undefined || v === null || !Number.isFinite(n)) throw new OperationError('postgres.countQuery', 'countQuery must return one number (e.g. select count(*) from orders)');
    return n;
  } finally {
    await db.query('rollback').catch(() => {});
  }
}

async function lsnDiff(db: Db, a: string, b: string): Promise<number> {
  const [r] = await db.query<{ d: string }>('select pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text as d', [a, b]);
  return Math.max(0, Number(r?.d ?? 0));
}

/** Seconds the standby is behind: against the primary's position when known. */
function lagOf(s: ReplicaStatus, primary: PrimaryView | undefined): number | null {
  if (!primary) return s.lagSeconds;
  if (s.replayLsn && compareLsn(primary.lsn, s.replayLsn) <= 0) return 0;
  if (!s.lastReplayAt) return null;
  return Math.round(Math.max(0, primary.now.getTime() - Date.parse(s.lastReplayAt)) / 10) / 100;
}

/**
 * The recovery point and the data lost, in seconds. With the primary: nothing lost when the
 * standby replayed all it had; else the primary's last commit minus the last replayed one
 * (with commit timestamps) or, without them, the primary's clock minus the last replayed commit
 * (an upper bound). Without the primary, the last replayed commit is the recovery point and the
 * loss is measured from it to the declared disaster by the drill.
 */
function dataLost(s: ReplicaStatus, primary: PrimaryView | undefined, lostBytes: number | null): { recoveryPoint: string | null; rpoSeconds: number | null } {
  if (primary && lostBytes === 0) return { recoveryPoint: primary.now.toISOString(), rpoSeconds: 0 };
  if (primary && s.lastReplayAt) {
    const until = primary.lastCommit ?? primary.now;
    return { recoveryPoint: s.lastReplayAt, rpoSeconds: Math.round(Math.max(0, until.getTime() - Date.parse(s.lastReplayAt)) / 10) / 100 };
  }
  return { recoveryPoint: s.lastReplayAt, rpoSeconds: null };
}

function compareLsn(a: string, b: string): number {
  const n = (l: string) => {
    const [hi, lo] = l.split('/');
    return BigInt(`0x${hi ?? '0'}`) * 2n ** 32n + BigInt(`0x${lo ?? '0'}`);
  };
  const d = n(a) - n(b);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}
