import type { Action } from '../types.js';
import { notifyWebhook } from './webhook.js';

// notify: generic webhooks.

export const actions: Action[] = [notifyWebhook];
