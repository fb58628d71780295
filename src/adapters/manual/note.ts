import { z } from 'zod';
import { defineAction } from '../types.js';

// manual.note: a line for the incident timeline ("root cause: pool exhausted").
export const manualNote = defineAction({
  name: 'manual.note',
  summary: 'Add a note to the run (and the incident timeline)',
  input: z.strictObject({ text: z.string().min(1) }),
  outputs: ['note', 'at'],
  describe: (i) => `note: ${i.text}`,
  async run(ctx, i) {
    ctx.log(i.text);
    return { note: i.text, at: new Date().toISOString() };
  },
});
