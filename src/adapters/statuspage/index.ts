import { statuspageCheck } from './check.js';

export const actions = [statuspageCheck];
