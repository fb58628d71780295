import type { Action } from '../types.js';
import { twilioCheck } from './check.js';
import { twilioSms } from './sms.js';

// twilio: SMS and account checks through the official client.

export const actions: Action[] = [twilioSms, twilioCheck];
