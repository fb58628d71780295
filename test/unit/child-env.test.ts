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
});
