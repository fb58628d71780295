import { slackPost } from './post.js';

export const actions = [slackPost];
