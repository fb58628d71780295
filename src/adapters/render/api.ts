import { UsageError } from '../../errors.js';
import { providerApi, type ProviderApi } from '../provider-api.js';
import type { ActionContext } from '../types.js';

// Render's public API as drctl uses it: GET /v1/postgres/{id}/recovery (recoveryStatus,
// startsAt), POST /v1/postgres/{id}/recovery {restoreTime, restoreName} (answers with the new
// instance's id), GET /v1/postgres/{id} (status), GET /v1/postgres/{id}/connection-info,
// GET /v1/postgres/{id}/export (logical exports: createdAt).

export function renderApi(ctx: ActionContext): ProviderApi {
  return providerApi(ctx, {
    name: 'Render',
    code: 'render',
    tokenVar: 'RENDER_API_KEY',
    baseVar: 'RENDER_API_URL',
    defaultBase: 'https://api.render.com',
    tokenHelp: 'create a new API key under Account Settings → API Keys in the Render Dashboard',
  });
}

export function postgresPath(id: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new UsageError('usage.render', `postgres "${id}": a Render Postgres id looks like dpg-... (the database's Info page)`);
  return `/v1/postgres/${id}`;
}

/** Render refuses targets within this much of now: the window ends here. */
export const RECENT_LIMIT_MS = 10 * 60_000;

export interface RecoveryInfo {
  status: string;
  start?: Date;
  end: Date;
}

export async function recoveryInfo(api: ProviderApi, id: string, now = Date.now()): Promise<RecoveryInfo> {
  const r = (await api.get(`${postgresPath(id)}/recovery`)) as { recoveryStatus?: unknown; startsAt?: unknown } | undefined;
  const start = typeof r?.startsAt === 'string' ? new Date(r.startsAt) : undefined;
  return {
    status: typeof r?.recoveryStatus === 'string' ? r.recoveryStatus : 'UNKNOWN',
    start: start && !Number.isNaN(start.getTime()) ? start : undefined,
    end: new Date(now - RECENT_LIMIT_MS),
  };
}
