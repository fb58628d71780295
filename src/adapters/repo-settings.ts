import type { ActionContext } from './types.js';
import { Repository } from '../repository/repository.js';

// Opens the repository an action names (or the configured one), with the run's settings.
// What it creates, repairs or upgrades is logged as the step's own output.
export function openRepo(ctx: ActionContext, url: string | undefined, o: { create?: boolean } = {}): Promise<Repository> {
  return Repository.open(url || undefined, { env: ctx.env, config: ctx.config }, { ...o, kinds: ctx.backupKinds.keys(), notice: (line) => ctx.log(line) });
}
