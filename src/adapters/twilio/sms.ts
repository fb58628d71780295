import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { defineAction } from '../types.js';
import { twilioClient, twilioError } from './client.js';

// twilio.sms: page someone by SMS.

export const twilioSms = defineAction({
  name: 'twilio.sms',
  summary: 'Send an SMS through Twilio',
  input: z.strictObject({
    to: z.string().min(1),
    body: z.string().min(1).max(1600),
    from: z.string().optional().meta({ description: 'default: TWILIO_FROM_NUMBER' }),
    messagingServiceSid: z.string().optional().meta({ description: 'default: TWILIO_MESSAGING_SERVICE_SID' }),
  }),
  outputs: ['sid', 'status'],
  describe: (i) => `SMS to ${i.to}: ${i.body.slice(0, 60)}`,
  async run(ctx, i) {
    const { client } = await twilioClient(ctx);
    const from = i.from ?? ctx.env.TWILIO_FROM_NUMBER;
    const messagingServiceSid = i.messagingServiceSid ?? ctx.env.TWILIO_MESSAGING_SERVICE_SID;
    if (!from && !messagingServiceSid) throw new UsageError('usage.twilio', 'twilio.sms needs from (or TWILIO_FROM_NUMBER / TWILIO_MESSAGING_SERVICE_SID)');
    try {
      const m = await client.messages.create({ to: i.to, body: i.body, ...(messagingServiceSid ? { messagingServiceSid } : { from }) });
      ctx.log(`SMS ${m.sid} to ${i.to}: ${m.status}`);
      return { sid: m.sid, status: m.status };
    } catch (err) {
      throw twilioError(err, `SMS to ${i.to}`);
    }
  },
});
