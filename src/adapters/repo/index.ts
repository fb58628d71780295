import type { Action } from '../types.js';
import { repoExpire } from './expire.js';
import { repoList } from './list.js';
import { repoVerify } from './verify.js';

// repo: the backup repository itself: listing, retention, verification.

export const actions: Action[] = [repoList, repoExpire, repoVerify];
