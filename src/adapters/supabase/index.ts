import { supabaseBackups } from './backups.js';
import { supabasePitr } from './pitr.js';

export const actions = [supabasePitr, supabaseBackups];
