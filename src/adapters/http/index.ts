import type { Action } from '../types.js';
import { httpCheck } from './check.js';

// http: endpoint checks.

export const actions: Action[] = [httpCheck];
