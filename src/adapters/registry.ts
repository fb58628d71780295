import { UsageError } from '../errors.js';
import type { Action } from './types.js';
import { shellRun } from './shell/run.js';
import { httpCheck } from './http/check.js';
import { manualConfirm } from './manual/confirm.js';
import { postgresAssert } from './postgres/assert.js';
import { postgresBackup } from './postgres/backup.js';
import { postgresPing } from './postgres/ping.js';
import { postgresQuery } from './postgres/query.js';
import { postgresRestore } from './postgres/restore.js';
import { repoExpire } from './repo/expire.js';
import { repoList } from './repo/list.js';
import { repoVerify } from './repo/verify.js';
import { notifyWebhook } from './notify/webhook.js';
import { twilioSms } from './twilio/sms.js';
import { twilioCheck } from './twilio/check.js';
import { vapiCheck } from './vapi/check.js';
import { postgresHealth } from './postgres/health.js';
import { redisPing } from './redis/ping.js';
import { redisBackup, redisRestore } from './redis/snapshot.js';
import { manualNote } from './manual/note.js';
import { envBackup, envRestore } from './env/env-file.js';
import { postgresCopyRows } from './postgres/copy-rows.js';
import { postgresStop } from './postgres/stop.js';
import { postgresArchiveNow } from './postgres/switch-wal.js';
import { actions as s3Actions } from './s3/index.js';
import { actions as supabaseActions } from './supabase/index.js';
import { actions as renderActions } from './render/index.js';
import { postgresPromote } from './postgres/promote.js';
import { postgresReplicaStatus } from './postgres/replica-status.js';
import { postgresStandby } from './postgres/standby.js';
import { actions as statuspageActions } from './statuspage/index.js';
import { actions as pagerdutyActions } from './pagerduty/index.js';
import { actions as slackActions } from './slack/index.js';
import { actions as dnsActions } from './dns/index.js';

// The one place that lists the actions. Adapter modules are light: heavy SDKs are imported
// inside run(), so building the registry costs nothing at start-up.

export class Registry {
  private readonly actions = new Map<string, Action>();

  constructor(actions: Action[]) {
    for (const a of actions) this.actions.set(a.name, a);
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  get(name: string): Action {
    const a = this.actions.get(name);
    if (!a) throw new UsageError(`unknown action "${name}"`, 'runbook.unknownAction');
    return a;
  }

  names(): string[] {
    return [...this.actions.keys()].sort();
  }

  /** The closest known action name, for "did you mean" hints. */
  suggest(name: string): string | undefined {
    let best: [string, number] | undefined;
    for (const n of this.actions.keys()) {
      const d = distance(n, name);
      if (d <= 3 && (!best || d < best[1])) best = [n, d];
    }
    return best?.[0];
  }
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min((dp[j] as number) + 1, (dp[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

/** Every built-in action. */
export function builtInRegistry(): Registry {
  return new Registry([
    shellRun,
    httpCheck,
    manualConfirm,
    postgresPing,
    postgresQuery,
    postgresAssert,
    postgresBackup,
    postgresRestore,
    repoList,
    repoExpire,
    repoVerify,
    notifyWebhook,
    twilioSms,
    twilioCheck,
    vapiCheck,
    postgresHealth,
    redisPing,
    redisBackup,
    redisRestore,
    manualNote,
    envBackup,
    envRestore,
    postgresCopyRows,
    postgresStop,
    postgresArchiveNow,
    ...s3Actions,
    ...supabaseActions,
    ...renderActions,
    postgresPromote,
    postgresReplicaStatus,
    postgresStandby,
    ...statuspageActions,
    ...pagerdutyActions,
    ...slackActions,
    ...dnsActions,
  ]);
}
