import type { Twilio } from 'twilio';
import { OperationError, UsageError } from '../../errors.js';
import type { ActionContext } from '../types.js';

// The Twilio SDK, loaded lazily. TWILIO_API_BASE_URL sends the SDK's requests to another
// base URL (a proxy, or in tests a local server that answers like the API): the SDK still
// builds every request itself (auth, form encoding), only the host changes.

export async function twilioClient(ctx: ActionContext, o: { accountSid?: string; authToken?: string } = {}): Promise<{ client: Twilio; accountSid: string }> {
  const accountSid = o.accountSid ?? ctx.env.TWILIO_ACCOUNT_SID;
  const authToken = o.authToken ?? ctx.env.TWILIO_AUTH_TOKEN;
  if (!accountSid || !authToken) throw new UsageError('usage.twilio', 'Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN');
  ctx.secret(authToken);
  const twilio = (await import('twilio')).default;
  const base = ctx.env.TWILIO_API_BASE_URL?.replace(/\/$/, '');
  let httpClient;
  if (base) {
    const RequestClient = twilio.RequestClient;
    type Opts<T> = Parameters<InstanceType<typeof RequestClient>['request']>[0] & { data?: T };
    class BaseUrlClient extends RequestClient {
      override request<T>(opts: Opts<T>) {
        return super.request<T>({ ...opts, uri: opts.uri.replace(/^https:\/\/[a-z0-9.-]*twilio\.com/i, base as string) });
      }
    }
    httpClient = new BaseUrlClient({ timeout: 15_000 });
  }
  return { client: twilio(accountSid, authToken, { httpClient, autoRetry: true, maxRetries: 2 }), accountSid };
}

/** One line for an SDK error: HTTP status, Twilio's code and message; never the token. */
export function twilioError(err: unknown, what: string): OperationError {
  const e = err as { status?: number; code?: number | string; message?: string };
  if (e.status === 401) return new OperationError('twilio.auth', `${what}: Twilio rejected the credentials (401${e.code ? `, code ${e.code}` : ''})`);
  if (e.status) return new OperationError('twilio.api', `${what}: Twilio answered ${e.status}${e.code ? ` (code ${e.code})` : ''}: ${e.message ?? ''}`);
  const code = (err as { code?: string }).code;
  return new OperationError('twilio.unreachable', `${what}: ${code ?? e.message ?? String(err)}`);
}
