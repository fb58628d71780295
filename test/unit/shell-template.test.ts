import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkShellTemplate, quoteWord, renderShell } from '../../src/runbook/shell-template.js';

// Every value interpolated into a shell command reaches /bin/sh as data: the commands below run
// under the real /bin/sh, and a payload that executed would create the marker file.

const dir = mkdtempSync(path.join(os.tmpdir(), 'drctl-shq-'));
const marker = path.join(dir, 'pwned');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAYLOADS = [
  `$(touch ${marker})`,
  `\`touch ${marker}\``,
  `; touch ${marker}`,
  `'; touch ${marker}; '`,
  `"; touch ${marker}; "`,
  `\ntouch ${marker}\n#`,
  `a'b"c $(touch ${marker}) \`touch ${marker}\` d`,
  `\\'; touch ${marker} #`,
  `\\"; touch ${marker} #`,
  `$((1+1)) * ?`,
  `EOF\ntouch ${marker}\nEOF`,
  `) ; touch ${marker} ; (`,
  `'"'"'\\`,
];

function sh(command: string): string {
  return execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8', cwd: dir });
}

// /bin/sh is bash on RHEL and Fedora, and bash reads some quoting ($'...') that dash does not.
function bash(command: string): string {
  return execFileSync('bash', ['-c', command], { encoding: 'utf8', cwd: dir });
}

const render = (template: string, value: unknown) => renderShell(template, (ref) => (ref[1] === 'x' ? value : undefined));

describe('shell templates', () => {
  it('quotes one word the way zx does', () => {
    expect(quoteWord("it's")).toBe(`'it'\\''s'`);
  });

  const contexts: [string, (v: string) => string][] = [
    ["printf '%s' ${inputs.x}", (v) => v],
    ["printf '%s' pre${inputs.x}post", (v) => `pre${v}post`],
    ['printf \'%s\' "pre ${inputs.x} post"', (v) => `pre ${v} post`],
    ["printf '%s' 'pre ${inputs.x} post'", (v) => `pre ${v} post`],
    ['printf \'%s\' "$(printf \'%s\' ${inputs.x})"', (v) => v],
    ['printf \'%s\' "a$(printf \'%s\' "b${inputs.x}c")d"', (v) => `ab${v}cd`],
    ['x=$(printf \'%s\' ${inputs.x}); printf \'%s\' "$x"', (v) => v],
    ["cat <<EOF\n${inputs.x}\nEOF", (v) => `${v}\n`],
    ["cat <<'EOF'\n${inputs.x}\nEOF", (v) => `${v}\n`],
    ["true # ${inputs.x}\nprintf ok", () => 'ok'],
    // An escaped $ before ( is no command substitution; ( and ) inside a shell ${...} are not parentheses.
    ['printf \'%s\' "\\$(${inputs.x})"', (v) => `$(${v})`],
    ['x=a; printf \'%s\' "$(printf \'%s\' $${x%)} ${inputs.x})"', (v) => `a${v}`],
    ['x=a; printf \'%s\' "$(printf \'%s\' $${x#(})${inputs.x}"', (v) => `a${v}`],
  ];

  for (const [template, expected] of contexts) {
    it(`no payload runs and each arrives intact: ${JSON.stringify(template)}`, () => {
      for (const p of PAYLOADS) {
        let out: string;
        try {
          out = sh(render(template, p));
        } catch (err) {
          // A here-document refuses a value that would end it; nothing runs.
          expect(String(err)).toMatch(/here-document/);
          expect(template).toContain('<<');
          continue;
        }
        expect(existsSync(marker), `${template} with ${JSON.stringify(p)}`).toBe(false);
        expect(out).toBe(expected(p));
        expect(bash(render(template, p))).toBe(expected(p));
        expect(existsSync(marker), `bash: ${template} with ${JSON.stringify(p)}`).toBe(false);
      }
    });
  }

  it('a path with a space is one argument; an array is one argument per element', () => {
    expect(sh(render("printf '[%s]' ${inputs.x}", '/tmp/a dir/f.txt'))).toBe('[/tmp/a dir/f.txt]');
    expect(sh(render("printf '[%s]' ${inputs.x}", ['a b', "c'd", '$(x)']))).toBe("[a b][c'd][$(x)]");
  });

  it('literal runbook text stays shell syntax; raw() pastes code', () => {
    expect(sh(render('v=1; printf "%s|" "$v" $((1+1)) ${inputs.x}', 'y'))).toBe('1|2|y|');
    expect(sh(render('${raw(inputs.x)}', 'printf raw'))).toBe('raw');
  });

  it('refuses places where a value cannot be quoted safely', () => {
    expect(() => render('echo `echo ${inputs.x}`', 'a')).toThrow(/backquotes/);
    expect(() => render('echo \\${inputs.x}', 'a')).toThrow(/backslash/);
    expect(() => render('cat <<${inputs.x}\nhi\n', 'a')).toThrow(/delimiter/);
    // The template syntax cannot put a bare $ before ${...} ($${ is a literal ${), but raw() can.
    expect(() => render('echo ${raw(inputs.x)}${inputs.x}', 'a$')).toThrow(/bare \$/);
    expect(sh(render("x=lit; printf %s $${x}${inputs.x}", "'; x"))).toBe("lit'; x");
    expect(() => renderShell('cat <<EOF\n${inputs.x}\nEOF', () => `EOF\ntouch ${marker}`)).toThrow(/here-document/);
  });

  it('refuses a value after a case inside $( ), whose pattern ) is not the end of the $( )', () => {
    const template = 'echo "$(case a in a) echo ${inputs.x};; esac)"';
    expect(() => render(template, `x; touch ${marker}`)).toThrow(/case \.\.\. esac inside \$\( \)/);
    // What the shell would have run, had the value been escaped for "...".
    sh(`echo "$(case a in a) echo x; touch ${marker};; esac)"`);
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    expect(() => render('x=$(ca\\\nse a in a) echo;; esac); echo "$(echo)" ${inputs.x}', 'v')).toThrow(/case/);
    // A case outside $( ), or a value before it, is followed as before.
    expect(sh(render('case a in a) printf \'%s\' ${inputs.x};; esac', `x; touch ${marker}`))).toBe(`x; touch ${marker}`);
    expect(sh(render('printf \'%s\' "$(printf \'%s\' ${inputs.x}; case a in a) ;; esac)"', 'v'))).toBe('v');
    expect(checkShellTemplate(template)).toEqual([expect.objectContaining({ message: expect.stringMatching(/case/) })]);
  });

  it("refuses a value inside bash's $'...', where \\' does not end the string", () => {
    const template = "printf '%s\\n' $'note: ${inputs.x}'";
    expect(() => render(template, `\\'; touch ${marker} #`)).toThrow(/\$'\.\.\.'/);
    // What bash would have run, had the value been escaped for '...'.
    bash(`printf '%s\\n' $'note: \\'\\''; touch ${marker} #'`);
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    expect(() => render("echo $'a\\' b' ${inputs.x}", 'v')).not.toThrow();
    expect(sh(render("printf '%s' $$'x' ${inputs.x}", 'v')).replace(/^\d+/, '')).toBe('xv');
    expect(checkShellTemplate(template)).toEqual([expect.objectContaining({ message: expect.stringMatching(/\$'/) })]);
  });

  it('refuses a value inside a shell ${...}, or after quotes in one', () => {
    expect(() => render('echo $${HOME:-${inputs.x}}', 'v')).toThrow(/\$\{\.\.\.\}/);
    // bash reads the inner "..." as nested quotes, so '...' inside them would not protect $( ).
    expect(() => render('x=; echo "$${x:-"${inputs.x}"}"', `$(touch ${marker})`)).toThrow(/\$\{\.\.\.\}/);
    expect(sh(render('x=lit; printf \'%s\' "$${x}" ${inputs.x}', 'v'))).toBe('litv');
  });

  it('validate: raw() is a warning, an unquotable place an error', () => {
    expect(checkShellTemplate('${raw(inputs.cmd)} --now')).toEqual([expect.objectContaining({ warning: true, offset: 0 })]);
    expect(checkShellTemplate('echo `cat ${inputs.f}`')).toEqual([expect.objectContaining({ message: expect.stringMatching(/backquotes/) })]);
    expect(checkShellTemplate('echo ${inputs.f}')).toEqual([]);
    expect(checkShellTemplate('${inputs.cmd}')).toEqual([expect.objectContaining({ warning: true, message: expect.stringMatching(/one quoted word/) })]);
  });
});
