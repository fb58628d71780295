import type { Action } from '../types.js';
import { vapiCheck } from './check.js';

// vapi: voice-agent API checks.

export const actions: Action[] = [vapiCheck];
