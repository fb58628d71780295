import { closeSync, openSync, readSync, statSync } from 'node:fs';

// Keeps secrets out of every output: logs, reports, errors, plan. Known secret values (from
// secret-looking environment variables, runbook inputs marked `secret: true`, passwords found
// in connection URLs) are replaced wherever they appear; URL passwords and token-like query
// parameters are masked by shape even when the value was never registered.

const MASK = '***';
// A webhook URL's path is its secret: whoever has it can post to the channel.
const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|_KEY$|^KEY$|API_?KEY|PRIVATE|CREDENTIAL|WEBHOOK|AUTH(?!OR))/i;
// The password runs to the last @ of the word: an unencoded / or @ in it (which some clients
// accept) must not leave its tail showing. Masking a little too much beats too little.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"']*:)([^\s"']+)@/gi;
// key=value with a secret-looking key anywhere in its name: ?token=, AuthToken=, x_api_key=.
const QUERY_SECRET = /((?:^|[?&;,\s({])[A-Za-z0-9_.-]*?(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|auth)[A-Za-z0-9_.-]*=)([^&;,\s"')}]+)/gi;
// SQL: CREATE/ALTER ROLE ... [ENCRYPTED] PASSWORD '...' ('' is a quote inside the string).
const SQL_PASSWORD = /\b(PASSWORD\s+)(E?'(?:[^']|'')*')/gi;
// JSON (and JSON-like) "key": "value" where the key looks secret.
const JSON_SECRET = /("([A-Za-z0-9_.-]+)"\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const KEYWORD_PASSWORD = /\b(password\s*=\s*)('[^']*'|\S+)/gi;
// NAME=value assignments of secret-looking variables, as in an archive_command or a shell line.
const ENV_ASSIGNMENT = /\b([A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|WEBHOOK)[A-Z0-9_]*=)('[^']*'|"[^"]*"|[^\s'"]+)/g;

/** True when a variable name looks like it holds a secret (TWILIO_AUTH_TOKEN, PGPASSWORD...). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** True when `text` holds a URL with a password in it (postgres://user:pw@host/db). */
export function hasUrlPassword(text: string): boolean {
  return [...text.matchAll(URL_PASSWORD)].some((m) => !!m[2]);
}

export class Redactor {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a literal secret; short values are ignored to avoid masking common words. */
  add(value: string | undefined | null): void {
    if (!value || value.length < 4 || this.values.has(value)) return;
    for (const form of encodedForms(value)) this.values.add(form);
    this.pattern = undefined;
  }

  /** Registers secrets found in an environment: secret-named values and URL passwords. */
  addFromEnv(env: Record<string, string | undefined>): void {
    for (const [name, value] of Object.entries(env)) {
      if (!value) continue;
      if (name.endsWith('_FILE') && isSecretName(name.slice(0, -5))) this.addFileContents(value);
      else if (isSecretName(name)) this.add(value);
      this.addUrlPasswords(value);
    }
  }

  /** Registers what a NAME_FILE variable points at (DRCTL_ENCRYPTION_KEY_FILE...), as drctl will read it. */
  private addFileContents(file: string): void {
    try {
      // Only a regular file: opening a FIFO named by mistake would block start-up.
      if (!statSync(file).isFile()) return;
      const fd = openSync(file, 'r');
      try {
        // A key file is small; a larger file is not a secret value we could mask anyway.
        const buf = Buffer.alloc(64 * 1024);
        const n = readSync(fd, buf, 0, buf.length, 0);
        const text = buf.subarray(0, n).toString('utf8');
        this.add(text.trim());
        for (const line of text.split('\n')) this.add(line.trim());
      } finally {
        closeSync(fd);
      }
    } catch {
      // unreadable here: drctl will say so when it needs the file
    }
  }

  /** Registers the password of every URL inside `text`. */
  addUrlPasswords(text: string): void {
    for (const m of text.matchAll(URL_PASSWORD)) {
      const pw = m[2];
      if (!pw) continue;
      this.add(pw);
      try {
        this.add(decodeURIComponent(pw));
      } catch {
        // not percent-encoded: the raw form is registered already
      }
    }
  }

  redact(text: string): string {
    let out = text
      .replace(URL_PASSWORD, `$1${MASK}@`)
      .replace(QUERY_SECRET, `$1${MASK}`)
      .replace(SQL_PASSWORD, `$1'${MASK}'`)
      .replace(JSON_SECRET, (all, head: string, key: string) => (isSecretName(key) ? `${head}"${MASK}"` : all))
      .replace(BEARER, `$1 ${MASK}`)
      .replace(KEYWORD_PASSWORD, `$1${MASK}`)
      .replace(ENV_ASSIGNMENT, `$1${MASK}`);
    if (this.values.size > 0) {
      this.pattern ??= new RegExp(
        [...this.values]
          .sort((a, b) => b.length - a.length)
          .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('|'),
        'g',
      );
      out = out.replace(this.pattern, MASK);
    }
    return out;
  }

  /** A deep copy of a JSON-like value with every string redacted. */
  redactDeep<T>(value: T): T {
    return this.walk(value, new WeakSet()) as T;
  }

  private walk(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[circular]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((v) => this.walk(v, seen));
    if (value instanceof Date) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretName(k) && typeof v === 'string' && v.length > 0 ? MASK : this.walk(v, seen);
    }
    return out;
  }
}

/**
 * The forms a secret takes in output: as is, percent-encoded (URLs, form bodies), escaped
 * inside a JSON string, and base64 / base64url at each of the three byte alignments it can have
 * inside a longer encoded blob (the characters that depend on neighbouring bytes are dropped,
 * as CI runners do when they mask secrets).
 */
export function encodedForms(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value), encodeURIComponent(value).replace(/%20/g, '+'), JSON.stringify(value).slice(1, -1)]);
  const bytes = Buffer.from(value, 'utf8');
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    let b64 = padded.toString('base64').replace(/=+$/, '');
    // Leading characters carry bits of the bytes before; a trailing partial one, of those after.
    b64 = b64.slice(Math.ceil((shift * 4) / 3));
    if (padded.length % 3 !== 0) b64 = b64.slice(0, -1);
    if (b64.length < 8) continue;
    forms.add(b64);
    forms.add(b64.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms].filter((f) => f.length >= 4);
}

/** The process-wide redactor: every output path goes through it. */
export const secrets = new Redactor();
