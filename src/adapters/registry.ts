import { UsageError } from '../errors.js';
import { BACKUP_KIND_NAME } from '../repository/manifest.js';
import * as env from './env/index.js';
import * as http from './http/index.js';
import * as manual from './manual/index.js';
import * as dns from './dns/index.js';
import * as notify from './notify/index.js';
import * as pagerduty from './pagerduty/index.js';
import * as postgres from './postgres/index.js';
import * as redis from './redis/index.js';
import * as render from './render/index.js';
import * as repo from './repo/index.js';
import * as s3 from './s3/index.js';
import * as shell from './shell/index.js';
import * as slack from './slack/index.js';
import * as statuspage from './statuspage/index.js';
import * as supabase from './supabase/index.js';
import * as twilio from './twilio/index.js';
import * as vapi from './vapi/index.js';
import type { Action, Adapter, BackupKind } from './types.js';

// The registry is the list of adapter folders: each folder's index.ts exports its actions and,
// when it stores backups, its backup kinds. Adding an adapter is one folder and one line here.
// Adapter modules are light: heavy SDKs are imported inside run(), so building the registry
// costs nothing at start-up.

const ADAPTERS: Adapter[] = [shell, http, manual, postgres, repo, notify, twilio, vapi, redis, env, s3, supabase, render, statuspage, pagerduty, slack, dns];

export class Registry {
  private readonly actions = new Map<string, Action>();
  /** Backup kinds by the name a manifest records. */
  readonly kinds = new Map<string, BackupKind>();

  constructor(adapters: readonly Adapter[]) {
    for (const ad of adapters) {
      for (const a of ad.actions) this.actions.set(a.name, a);
      for (const k of ad.backupKinds ?? []) {
        // Programming errors in an adapter folder: a kind must be a usable name, and unique.
        if (!BACKUP_KIND_NAME.test(k.name)) throw new Error(`backup kind "${k.name}": use lower-case letters, digits and dashes`);
        if (this.kinds.has(k.name)) throw new Error(`backup kind "${k.name}" is declared twice`);
        this.kinds.set(k.name, k);
      }
    }
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  get(name: string): Action {
    const a = this.actions.get(name);
    if (!a) throw new UsageError('runbook.unknownAction', `unknown action "${name}"`);
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

/** Every built-in adapter. */
export function builtInRegistry(): Registry {
  return new Registry(ADAPTERS);
}

/** The backup kinds the built-in adapters declare: what a repository may hold. */
export function builtInBackupKinds(): string[] {
  return [...builtInRegistry().kinds.keys()];
}
