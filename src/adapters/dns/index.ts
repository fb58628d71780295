import { dnsCheck } from './check.js';
import { dnsUpdate } from './update.js';

export const actions = [dnsUpdate, dnsCheck];
