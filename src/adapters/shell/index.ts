import type { Action } from '../types.js';
import { shellRun } from './run.js';

// shell: /bin/sh commands, with interpolated values quoted as data.

export const actions: Action[] = [shellRun];
