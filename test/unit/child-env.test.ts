import { describe, expect, it } from 'vitest';
import { commandEnv, WITHHELD_ENV } from '../../src/process/child-env.js';

// The environment shell.run and the Redis start/stop commands get: drctl's secrets stay behind
// unless the step names them.
describe('commandEnv', () => {
  it('withholds every listed secret, its _FILE twin and DRCTL_* keys; keeps the rest; env: wins', () => {
    const env: Record<string, string> = { PATH: '/usr/bin', HOME: '/home/x', KUBECONFIG: '/k', DRCTL_STATE_DIR: '/s', DRCTL_SOME_API_TOKEN: 't' };
    for (const n of WITHHELD_ENV) {
      env[n] = `v-${n}`;
      env[`${n}_FILE`] = `/f/${n}`;
    }
    const out = commandEnv(env, { PGPASSWORD: 'given' });
    expect(out).toEqual({ PATH: '/usr/bin', HOME: '/home/x', KUBECONFIG: '/k', DRCTL_STATE_DIR: '/s', PGPASSWORD: 'given' });
    expect(WITHHELD_ENV).toEqual(expect.arrayContaining(['DRCTL_ENCRYPTION_KEY', 'DRCTL_NEW_ENCRYPTION_KEY', 'AWS_SECRET_ACCESS_KEY', 'TWILIO_AUTH_TOKEN', 'VAPI_API_KEY', 'PGPASSWORD']));
  });

  it('withholds provider secrets, any secret-looking name and URLs with a password; keeps PATH, HOME, locale', () => {
    const env: Record<string, string> = {
      PATH: '/usr/bin',
      HOME: '/home/x',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      SSH_AUTH_SOCK: '/run/agent.sock',
      SUPABASE_API_URL: 'https://api.supabase.com',
      SUPABASE_ACCESS_TOKEN: 't',
      RENDER_API_KEY: 'k',
      CLOUDFLARE_API_TOKEN: 't',
      PAGERDUTY_ROUTING_KEY: 'k',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T00/B00/abc',
      DRCTL_NOTIFY_WEBHOOK: 'https://example.com/hook/abc',
      SUPABASE_DB_URL: 'postgresql://postgres:pw@db.example.co:5432/postgres',
      STATUSPAGE_API_KEY: 'k',
      MY_SERVICE_PASSWORD: 'p',
      GITHUB_TOKEN: 't',
    };
    expect(commandEnv(env, { SLACK_WEBHOOK_URL: 'given' })).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/x',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      SSH_AUTH_SOCK: '/run/agent.sock',
      SUPABASE_API_URL: 'https://api.supabase.com',
      SLACK_WEBHOOK_URL: 'given',
    });
  });
});
