import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { twilioClient, twilioError } from './client.js';

// twilio.check: the credentials work and the account is active; each phone number
// exists on the account and its voice/SMS webhooks point where the app now lives (the check to
// run after every redeploy).

const NumberSpec = z.strictObject({
  phoneNumber: z.string().min(1),
  voiceUrl: z.string().optional(),
  smsUrl: z.string().optional(),
});

export const twilioCheck = defineAction({
  name: 'twilio.check',
  summary: 'Check Twilio credentials, account status and phone-number webhooks',
  input: z.strictObject({ numbers: z.array(NumberSpec).default([]) }),
  outputs: ['accountStatus', 'numbers', 'figure'],
  describe: (i) => `Twilio credentials and account status${i.numbers.length ? `, webhooks of ${i.numbers.length} number(s)` : ''}`,
  async run(ctx, i) {
    const { client, accountSid } = await twilioClient(ctx);
    let status: string;
    try {
      status = (await client.api.v2010.accounts(accountSid).fetch()).status;
    } catch (err) {
      throw twilioError(err, 'Twilio account check');
    }
    if (status !== 'active') throw new OperationError('twilio.account', `Twilio account ${accountSid.slice(0, 6)}… is ${status}, not active`);
    const problems: string[] = [];
    const seen: { phoneNumber: string; voiceUrl: string; smsUrl: string }[] = [];
    for (const n of i.numbers) {
      let found;
      try {
        found = (await client.incomingPhoneNumbers.list({ phoneNumber: n.phoneNumber, limit: 1 }))[0];
      } catch (err) {
        throw twilioError(err, `Twilio number ${n.phoneNumber}`);
      }
      if (!found) {
        problems.push(`${n.phoneNumber} is not on this account`);
        continue;
      }
      seen.push({ phoneNumber: n.phoneNumber, voiceUrl: found.voiceUrl, smsUrl: found.smsUrl });
      if (n.voiceUrl !== undefined && found.voiceUrl !== n.voiceUrl) problems.push(`${n.phoneNumber} voice webhook is ${found.voiceUrl || '(none)'}, expected ${n.voiceUrl}`);
      if (n.smsUrl !== undefined && found.smsUrl !== n.smsUrl) problems.push(`${n.phoneNumber} SMS webhook is ${found.smsUrl || '(none)'}, expected ${n.smsUrl}`);
    }
    if (problems.length) throw new OperationError('twilio.webhooks', problems.join('; '), { cause: { accountStatus: status, numbers: seen } });
    return { accountStatus: status, numbers: seen, figure: `account active${i.numbers.length ? `, ${i.numbers.length} number(s) with the expected webhooks` : ''}` };
  },
});
