import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/redact.js';

// The shapes secrets took in output that the redactor used to let through, each with a canary.

const CANARY = 'Canary-9f8e7d6c';

describe('redaction of secret shapes', () => {
  const r = new Redactor();

  it('SQL PASSWORD literals', () => {
    const out = r.redact(`ALTER ROLE app WITH LOGIN ENCRYPTED PASSWORD '${CANARY}'; create user b password 'it''s-${CANARY}'`);
    expect(out).not.toContain(CANARY);
    expect(out).toContain("PASSWORD '***'");
    expect(out).toContain('create user b password');
  });

  it('JSON "password": "..." and other secret-named keys, but not the rest', () => {
    const out = r.redact(JSON.stringify({ user: 'app', password: CANARY, nested: { authToken: `x\\"${CANARY}` }, note: 'kept' }, null, 1));
    expect(out).not.toContain(CANARY);
    expect(out).toContain('"password": "***"');
    expect(out).toContain('"note": "kept"');
  });

  it('AuthToken=, x_api_key= and friends anywhere in a line', () => {
    for (const line of [`AccountSid=AC1&AuthToken=${CANARY}`, `curl -d AuthToken=${CANARY}`, `x_api_key=${CANARY},y=1`, `(sessionToken=${CANARY})`]) {
      expect(r.redact(line), line).not.toContain(CANARY);
    }
    expect(r.redact('AccountSid=AC1&AuthToken=abc')).toBe('AccountSid=AC1&AuthToken=***');
  });

  it('URL passwords with / or @, encoded or not', () => {
    for (const pw of [`${CANARY}/x`, `a@${CANARY}`, encodeURIComponent(`p/${CANARY}@q`)]) {
      const out = r.redact(`connecting to postgres://app:${pw}@db.example:5432/app failed`);
      expect(out, pw).not.toContain(CANARY);
      expect(out).toContain('postgres://app:***@');
    }
  });

  it('percent-encoded, JSON-escaped and base64 forms of a registered secret', () => {
    const reg = new Redactor();
    const secret = `${CANARY} /+?"&=`;
    reg.add(secret);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const shown = [
      encodeURIComponent(secret),
      JSON.stringify({ v: secret }),
      b64(secret),
      Buffer.from(secret).toString('base64url'),
      // Inside a longer blob at each alignment, as in a Basic header or an encoded config.
      b64(`x${secret}y`),
      b64(`xy${secret}`),
      b64(`user:${secret}:more`),
    ];
    for (const s of shown) {
      const out = reg.redact(`value ${s} end`);
      expect(out, s).toContain('***');
      expect(out).not.toContain(b64(secret).slice(4, -4));
      expect(out).not.toContain(CANARY);
    }
  });
});

describe('secrets in *_FILE variables', () => {
  it('the contents of DRCTL_ENCRYPTION_KEY_FILE and friends are masked, the path is not', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-redact-'));
    try {
      const keyFile = path.join(dir, 'key');
      writeFileSync(keyFile, `${CANARY}-passphrase\n`, { mode: 0o600 });
      const r = new Redactor();
      r.addFromEnv({ DRCTL_ENCRYPTION_KEY_FILE: keyFile, TWILIO_AUTH_TOKEN_FILE: path.join(dir, 'missing') });
      expect(r.redact(`key ${CANARY}-passphrase from ${keyFile}`)).toBe(`key *** from ${keyFile}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
