import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';

// Data never becomes code: values from --var and from earlier steps' outputs reach shell.run as
// literal words, and drctl's own secrets are not handed to runbook commands.

const root = tempDir('drctl-shellsec-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const marker = path.join(root, 'pwned');
const PAYLOADS = [
  `$(touch ${marker})`,
  `\`touch ${marker}\``,
  `x; touch ${marker}`,
  `'; touch ${marker}; '`,
  `"; touch ${marker}; "`,
  `line1\ntouch ${marker}`,
  `a'b"c $(touch ${marker}) \`touch ${marker}\` | touch ${marker} && touch ${marker}`,
];

const RUNBOOK = [
  'apiVersion: drctl/v1',
  'name: quoting',
  'inputs:',
  '  x: { required: true }',
  '  out: { required: true }',
  'steps:',
  '  - id: bare',
  '    uses: shell.run',
  `    with: { command: "printf '%s' \${inputs.x} > \${inputs.out}/bare" }`,
  '  - id: dquoted',
  '    uses: shell.run',
  `    with: { command: "printf '%s' \\"[\${inputs.x}]\\" > \${inputs.out}/dquoted" }`,
  '  - id: emit',
  '    uses: shell.run',
  `    with: { command: "printf '%s' \\"$P\\"", env: { P: "\${inputs.x}" } }`,
  '  - id: from-output',
  '    uses: shell.run',
  `    with: { command: "printf '%s' \${steps.emit.outputs.stdout} > \${inputs.out}/from-output" }`,
].join('\n');

describe('shell.run: data never becomes code', () => {
  const rb = path.join(root, 'quoting.yaml');
  writeFileSync(rb, RUNBOOK);

  it('no payload from --var or from a step output executes; each arrives as one literal word', async () => {
    for (const [n, p] of PAYLOADS.entries()) {
      const out = path.join(root, `out dir ${n}`);
      mkdirSync(out);
      const r = await drctl(['run', rb, '--var', `x=${p}`, '--var', `out=${out}`]);
      expect(r.code, r.all).toBe(0);
      expect(existsSync(marker), JSON.stringify(p)).toBe(false);
      expect(readFileSync(path.join(out, 'bare'), 'utf8')).toBe(p);
      expect(readFileSync(path.join(out, 'dquoted'), 'utf8')).toBe(`[${p}]`);
      expect(readFileSync(path.join(out, 'from-output'), 'utf8')).toBe(p);
    }
  });

  it('a path with spaces is one argument', async () => {
    const dir = path.join(root, 'my files');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a report.txt'), 'hello');
    const file = path.join(root, 'cat.yaml');
    writeFileSync(file, ['apiVersion: drctl/v1', 'name: cat', 'inputs: { f: { required: true } }', 'steps:', '  - id: cat', '    uses: shell.run', '    with: { command: "cat ${inputs.f} > ${inputs.f}.copy" }'].join('\n'));
    const r = await drctl(['run', file, '--var', `f=${path.join(dir, 'a report.txt')}`]);
    expect(r.code, r.all).toBe(0);
    expect(readFileSync(path.join(dir, 'a report.txt.copy'), 'utf8')).toBe('hello');
  });

  it('validate warns about raw() and rejects an interpolation inside backquotes', async () => {
    const raw = path.join(root, 'raw.yaml');
    writeFileSync(raw, ['apiVersion: drctl/v1', 'name: raw', 'inputs: { cmd: { required: true } }', 'steps:', '  - id: go', '    uses: shell.run', '    with: { command: "${raw(inputs.cmd)}" }'].join('\n'));
    const ok = await drctl(['validate', raw]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/^.*raw\.yaml:7:\d+ warning: steps\[0\]\.with\.command: .*raw\(inputs\.cmd\).* as code/m);
    const bq = path.join(root, 'bq.yaml');
    writeFileSync(bq, ['apiVersion: drctl/v1', 'name: bq', 'inputs: { f: {} }', 'steps:', '  - id: go', '    uses: shell.run', '    with: { command: "echo `cat ${inputs.f}`" }'].join('\n'));
    const bad = await drctl(['validate', bq]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('use $( ) instead');
  });
});

describe('quoting contexts the renderer cannot make safe are refused', () => {
  // Each of these ran the payload before: a case pattern's ) read as the end of "$(...)", and
  // bash's $'...' where the '\\'' escape for '...' does not close the string.
  const cases = [
    { name: 'case-in-subst', command: 'echo \\"$(case a in a) echo ${inputs.v};; esac)\\"', payload: `x; touch ${marker}`, error: /case \.\.\. esac inside \$\( \)/ },
    { name: 'ansi-c', command: "printf '%s\\\\n' $'note: ${inputs.v}'", payload: `\\'; touch ${marker} #`, error: /\$'\.\.\.' string/ },
  ];
  for (const c of cases) {
    it(`${c.name}: validate names file:line:col, run refuses, nothing executes`, async () => {
      const file = path.join(root, `${c.name}.yaml`);
      writeFileSync(file, ['apiVersion: drctl/v1', 'name: q', 'inputs: { v: {} }', 'steps:', '  - id: go', '    uses: shell.run', `    with: { command: "${c.command}" }`].join('\n'));
      const v = await drctl(['validate', file]);
      expect(v.code, v.all).toBe(2);
      expect(v.stderr).toMatch(new RegExp(`${c.name}\\.yaml:7:\\d+ .*steps\\[0\\]\\.with\\.command: .*${c.error.source}`));
      const r = await drctl(['run', file, '--var', `v=${c.payload}`]);
      expect(r.code, r.all).toBe(2);
      expect(existsSync(marker), r.all).toBe(false);
    });
  }
});

describe('runbook commands do not inherit drctl secrets', () => {
  it('DRCTL_ENCRYPTION_KEY, AWS and Twilio secrets reach shell.run only through env:', async () => {
    const out = path.join(root, 'env');
    mkdirSync(out);
    const file = path.join(root, 'env.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: drctl/v1',
        'name: env',
        'inputs: { out: { required: true } }',
        'steps:',
        '  - id: inherited',
        '    uses: shell.run',
        '    with: { command: "env > ${inputs.out}/inherited" }',
        '  - id: passed',
        '    uses: shell.run',
        '    with: { command: "env > ${inputs.out}/passed", env: { DRCTL_ENCRYPTION_KEY: "${env.DRCTL_ENCRYPTION_KEY}" } }',
      ].join('\n'),
    );
    const keyFile = path.join(root, 'key');
    writeFileSync(keyFile, 'canary-keyfile-1b2c3d', { mode: 0o600 });
    const canaries = { DRCTL_ENCRYPTION_KEY: 'canary-enc-4f5a6b', AWS_SECRET_ACCESS_KEY: 'canary-aws-7c8d9e', TWILIO_AUTH_TOKEN: 'canary-twilio-0a1b2c', PGPASSWORD: 'canary-pg-3d4e5f', DRCTL_NEW_ENCRYPTION_KEY_FILE: keyFile };
    const r = await drctl(['run', file, '--var', `out=${out}`], { env: { ...canaries, HARMLESS_SETTING: 'still-here' } });
    expect(r.code, r.all).toBe(0);
    const inherited = readFileSync(path.join(out, 'inherited'), 'utf8');
    for (const v of Object.values(canaries)) expect(inherited).not.toContain(v);
    expect(inherited).toContain('HARMLESS_SETTING=still-here');
    const passed = readFileSync(path.join(out, 'passed'), 'utf8');
    expect(passed).toContain(`DRCTL_ENCRYPTION_KEY=${canaries.DRCTL_ENCRYPTION_KEY}`);
    expect(passed).not.toContain(canaries.TWILIO_AUTH_TOKEN);
  });
});

describe('redaction of a real command output', () => {
  it('base64 and percent-encoded forms of a known secret, JSON and SQL passwords never show', async () => {
    const token = 'canary-b64-tok-7e6d5c4b';
    const other = 'canary-shape-3a2b1c0d';
    const file = path.join(root, 'leak.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: drctl/v1',
        'name: leak',
        'steps:',
        '  - id: print',
        '    uses: shell.run',
        '    with:',
        '      env: { T: "${env.TWILIO_AUTH_TOKEN}", O: "' + other + '" }',
        '      command: |',
        '        printf "%s" "$T" | base64',
        '        printf "x%s" "$T" | base64',
        "        node -e 'process.stdout.write(encodeURIComponent(process.argv[1] + \"/@\"))' \"$T\"; echo",
        '        printf \'{"password": "%s"}\\n\' "$O"',
        "        printf \"ALTER ROLE app PASSWORD '%s';\\n\" \"$O\"",
        '        printf "postgres://app:%s/x@db:5432/app\\n" "$O"',
        '        printf "AuthToken=%s\\n" "$O"',
      ].join('\n'),
    );
    const report = path.join(root, 'leak.json');
    const r = await drctl(['--log-format', 'pretty', 'run', file, '--report', report], { env: { TWILIO_AUTH_TOKEN: token } });
    expect(r.code, r.all).toBe(0);
    const everything = r.all + readFileSync(report, 'utf8');
    expect(everything).toMatch(/password\\": \\"\*\*\*/);
    for (const s of [token, other, Buffer.from(token).toString('base64').slice(0, 20), Buffer.from(`x${token}`).toString('base64').slice(4, 24), encodeURIComponent(`${token}/@`)]) {
      expect(everything, s).not.toContain(s);
    }
  });
});
