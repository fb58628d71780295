import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { connect, type Db } from './client.js';
import { describeConn, parsePgUrl } from './conn.js';

// postgres.replica.status: how far behind a standby is, in bytes (received but not replayed)
// and seconds, with its receive and replay positions, as PostgreSQL itself reports them.

export interface ReplicaStatus {
  inRecovery: boolean;
  /** streaming, paused, catching-up (restoring from the archive), or primary. */
  state: string;
  receiveLsn: string | null;
  replayLsn: string | null;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Commit time of the last transaction replayed (ISO), or null before any. */
  lastReplayAt: string | null;
  paused: boolean;
  walReceiver: string | null;
  timeline: number;
  /** The standby's clock, to compare with lastReplayAt. */
  now: string;
}

interface StatusRow {
  rec: boolean;
  receive: string | null;
  replay: string | null;
  lag_bytes: string | null;
  replay_ts: Date | null;
  now: Date;
  paused: boolean | null;
  receiver: string | null;
  tli: number;
}

/**
 * Reads a server's recovery status. lagSeconds: 0 for a streaming standby with nothing left to
 * replay; the age of the last replayed commit while WAL waits to be replayed, and also whenever
 * the standby is not streaming (its primary gone, replication broken, replaying from the
 * archive): it cannot see what its primary wrote since, so the time since its last replayed
 * commit is the most it may be behind, and it is reported as that, never as 0.
 */
export async function readReplicaStatus(db: Db): Promise<ReplicaStatus> {
  const [r] = await db.query<StatusRow>(`
    select pg_is_in_recovery() as rec,
           pg_last_wal_receive_lsn()::text as receive,
           pg_last_wal_replay_lsn()::text as replay,
           pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text as lag_bytes,
           pg_last_xact_replay_timestamp() as replay_ts,
           now() as now,
           case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() <> 'not paused' end as paused,
           (select status from pg_stat_wal_receiver limit 1) as receiver,
           (select timeline_id from pg_control_checkpoint()) as tli`);
  if (!r) throw new OperationError('postgres.status', 'the server returned no recovery status');
  if (!r.rec) {
    return { inRecovery: false, state: 'primary', receiveLsn: null, replayLsn: null, lagBytes: null, lagSeconds: null, lastReplayAt: null, paused: false, walReceiver: null, timeline: r.tli, now: r.now.toISOString() };
  }
  const lagBytes = r.lag_bytes === null ? null : Math.max(0, Number(r.lag_bytes));
  // Streaming with nothing waiting to be replayed is no lag, however long ago the last commit
  // was (an idle primary): the primary is sending, and it has nothing more.
  const caughtUp = r.receiver === 'streaming' && lagBytes === 0;
  const lagSeconds = caughtUp ? 0 : r.replay_ts ? Math.max(0, (r.now.getTime() - r.replay_ts.getTime()) / 1000) : null;
  const state = r.paused ? 'paused' : r.receiver === 'streaming' ? 'streaming' : r.receiver ? r.receiver : 'catching-up';
  return {
    inRecovery: true,
    state,
    receiveLsn: r.receive,
    replayLsn: r.replay,
    lagBytes,
    lagSeconds: lagSeconds === null ? null : Math.round(lagSeconds * 1000) / 1000,
    lastReplayAt: r.replay_ts ? r.replay_ts.toISOString() : null,
    paused: r.paused ?? false,
    walReceiver: r.receiver,
    timeline: r.tli,
    now: r.now.toISOString(),
  };
}

export const postgresReplicaStatus = defineAction({
  name: 'postgres.replica.status',
  summary: 'Replay lag (bytes and seconds), receive/replay positions and state of a standby',
  input: z.strictObject({
    url: z.string().optional().meta({ description: 'the standby (default: DATABASE_URL / PG* variables)' }),
    maxLagSeconds: z.number().min(0).optional().meta({ description: 'fail when the replay lag is larger' }),
    maxLagBytes: z.number().int().min(0).optional().meta({ description: 'fail when more WAL than this waits to be replayed' }),
  }),
  outputs: ['inRecovery', 'state', 'receiveLsn', 'replayLsn', 'lagBytes', 'lagSeconds', 'lastReplayAt', 'paused', 'walReceiver', 'timeline', 'figure'],
  describe: (i) => `read the replay lag of ${i.url ? 'the standby' : 'DATABASE_URL'}${i.maxLagSeconds !== undefined ? ` (at most ${i.maxLagSeconds}s)` : ''}`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    const db = await connect(conn, { signal: ctx.signal });
    let s: ReplicaStatus;
    try {
      s = await readReplicaStatus(db);
    } finally {
      await db.close();
    }
    const where = describeConn(conn);
    if (!s.inRecovery) throw new OperationError('postgres.notStandby', `${where} is not a standby (not in recovery)`);
    const { now: _now, ...rest } = s;
    const outputs = { ...rest, figure: `${s.state}, lag ${s.lagBytes ?? '?'} B / ${s.lagSeconds ?? '?'} s${lagNote(s)}` };
    ctx.log(`${where}: ${s.state}, received ${s.receiveLsn ?? '-'}, replayed ${s.replayLsn ?? '-'}, lag ${s.lagBytes ?? '?'} bytes, ${s.lagSeconds ?? '?'} s${lagNote(s)}`);
    if (i.maxLagSeconds !== undefined && (s.lagSeconds === null || s.lagSeconds > i.maxLagSeconds)) {
      throw new OperationError('postgres.replicaLag', `${where}: replay lag ${s.lagSeconds === null ? 'unknown (no transaction replayed yet)' : `${s.lagSeconds} s${lagNote(s)}`} exceeds ${i.maxLagSeconds} s`, { cause: outputs });
    }
    if (i.maxLagBytes !== undefined && (s.lagBytes === null || s.lagBytes > i.maxLagBytes)) {
      throw new OperationError('postgres.replicaLag', `${where}: ${s.lagBytes ?? 'unknown'} bytes wait to be replayed, more than ${i.maxLagBytes}`, { cause: outputs });
    }
    return outputs;
  },
});

/** Says what a lag figure is when the standby is not streaming: the age of its last replayed commit. */
export function lagNote(s: ReplicaStatus): string {
  if (!s.inRecovery || s.walReceiver === 'streaming' || s.lagSeconds === null) return '';
  return ` (not streaming: the last replayed commit is that old; what the primary wrote since is not here)`;
}
