import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { providerApi, type ProviderApi } from '../provider-api.js';
import type { ActionContext } from '../types.js';

// The Supabase Management API as drctl uses it: GET /v1/projects/{ref}/database/backups (PITR
// window and daily backups), POST .../backups/restore-pitr and .../backups/restore (in place),
// GET /v1/projects/{ref} (status). Only the fields named below are relied on.

export function supabaseApi(ctx: ActionContext): ProviderApi {
  return providerApi(ctx, {
    name: 'Supabase',
    code: 'supabase',
    tokenVar: 'SUPABASE_ACCESS_TOKEN',
    baseVar: 'SUPABASE_API_URL',
    defaultBase: 'https://api.supabase.com',
    tokenHelp: 'create a new access token at https://supabase.com/dashboard/account/tokens',
  });
}

export function projectPath(ref: string): string {
  if (!/^[a-z0-9]+$/.test(ref)) throw new UsageError('usage.supabase', `project "${ref}": a Supabase project ref is lower-case letters (Project Settings → General)`);
  return `/v1/projects/${ref}`;
}

const Backups = z.object({
  pitr_enabled: z.boolean().nullish(),
  walg_enabled: z.boolean().nullish(),
  region: z.string().nullish(),
  backups: z
    .array(z.object({ id: z.number().nullish(), is_physical_backup: z.boolean().nullish(), status: z.string().nullish(), inserted_at: z.string().nullish() }))
    .nullish(),
  physical_backup_data: z.object({ earliest_physical_backup_date_unix: z.number().nullish(), latest_physical_backup_date_unix: z.number().nullish() }).nullish(),
});

export interface DailyBackup {
  id: number;
  at: Date;
  status: string;
  physical: boolean;
}

export interface BackupState {
  pitrEnabled: boolean;
  /** The PITR window, when PITR is on and the provider reports one. */
  window?: { start: Date; end: Date };
  /** Completed daily backups, oldest first. */
  backups: DailyBackup[];
  region?: string;
}

export async function readBackups(api: ProviderApi, ref: string): Promise<BackupState> {
  const parsed = Backups.safeParse(await api.get(`${projectPath(ref)}/database/backups`));
  if (!parsed.success) throw new OperationError('supabase.api', `Supabase API: unexpected answer for the backups of ${ref}`);
  const b = parsed.data;
  const e = b.physical_backup_data?.earliest_physical_backup_date_unix;
  const l = b.physical_backup_data?.latest_physical_backup_date_unix;
  const backups = (b.backups ?? [])
    .filter((x) => typeof x.id === 'number' && x.inserted_at && (x.status ?? '').toUpperCase() === 'COMPLETED')
    .map((x) => ({ id: x.id as number, at: new Date(x.inserted_at as string), status: x.status as string, physical: x.is_physical_backup === true }))
    .filter((x) => !Number.isNaN(x.at.getTime()))
    .sort((a, c) => a.at.getTime() - c.at.getTime());
  return {
    pitrEnabled: b.pitr_enabled === true,
    window: b.pitr_enabled === true && e && l ? { start: new Date(e * 1000), end: new Date(l * 1000) } : undefined,
    backups,
    region: b.region ?? undefined,
  };
}

export async function projectStatus(api: ProviderApi, ref: string): Promise<string> {
  const p = (await api.get(projectPath(ref))) as { status?: unknown } | undefined;
  if (typeof p?.status !== 'string') throw new OperationError('supabase.api', `Supabase API: no status for project ${ref}`);
  return p.status;
}

/** States in which the project is changing already: a restore now would race it. */
export const BUSY = new Set(['RESTORING', 'COMING_UP', 'GOING_DOWN', 'RESTARTING', 'UPGRADING', 'PAUSING', 'RESIZING']);
/**
 * States that show the project going through a restore. ACTIVE_UNHEALTHY is not one: a project
 * can be unhealthy for other reasons (the incident being recovered from) and heal by itself.
 */
export const RESTORE_UNDERWAY = new Set(['RESTORING', 'GOING_DOWN', 'COMING_UP', 'RESTARTING']);
/** States a restore ends in when it did not work. */
export const FAILED = new Set(['RESTORE_FAILED', 'INIT_FAILED', 'PAUSE_FAILED', 'REMOVED', 'INACTIVE']);
