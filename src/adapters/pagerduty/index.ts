import { pagerdutyEvent } from './event.js';

export const actions = [pagerdutyEvent];
