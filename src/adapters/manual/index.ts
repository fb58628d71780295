import type { Action } from '../types.js';
import { manualConfirm } from './confirm.js';
import { manualNote } from './note.js';

// manual: steps a person does, confirmed or noted in the run.

export const actions: Action[] = [manualConfirm, manualNote];
