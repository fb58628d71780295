import os from 'node:os';
import { z } from 'zod';
import { ConfirmationError } from '../../errors.js';
import { defineAction } from '../types.js';

// manual.confirm: the operator says yes before a destructive step. --yes answers for them;
// without a TTY and without --yes the run stops with exit 4 rather than guessing.

const Input = z.strictObject({ message: z.string().min(1) });

export const manualConfirm = defineAction({
  name: 'manual.confirm',
  summary: 'Ask the operator to confirm before going on',
  input: Input,
  outputs: ['confirmed', 'by', 'at'],
  describe: (i) => `ask: ${i.message}`,
  async run(ctx, i) {
    const ok = await ctx.confirm(i.message);
    if (!ok) throw new ConfirmationError('confirm.declined', `declined: ${i.message}`);
    return { confirmed: true, by: ctx.env.SUDO_USER ?? ctx.env.USER ?? os.userInfo().username, at: new Date().toISOString() };
  },
});
