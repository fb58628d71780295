import { renderBackups } from './backups.js';
import { renderPitr } from './pitr.js';

export const actions = [renderPitr, renderBackups];
