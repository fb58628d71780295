import { ShellTemplateError } from '../errors.js';
import { evaluate, type Expr, type Resolver } from './expression.js';
import { parseTemplate } from './template-parse.js';

// Templates whose result is a /bin/sh command line (shell.run `command`, Redis start/stop
// commands). The text the runbook author wrote stays shell syntax; every interpolated value
// reaches the shell as literal data, whatever quotes, $( ), backticks, ; or newlines it holds.
// The renderer follows the shell's quoting state through the literal text so a value is quoted
// for the place it lands in: bare, inside '...', inside "...", or in a here-document body.
// Only `${raw(...)}` pastes a value as shell code, and `drctl validate` warns about it.


/** Quotes one value as a single shell word: 'it'\''s' (as zx and execa's `$` do). */
export function quoteWord(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

// 'ansi' is bash's $'...', where \' does not end the string; 'param' is a shell ${...}, where
// ( and ) are plain characters. A value is never interpolated into either.
type Mode = 'plain' | 'single' | 'double' | 'ansi' | 'param' | 'comment' | 'heredoc';

interface Heredoc {
  delimiter: string;
  stripTabs: boolean;
  quoted: boolean;
}

/** Tracks where the next character lands in a /bin/sh command line. */
class ShellState {
  // Quoting contexts nest: "$(echo '...')" is single quotes inside a command substitution
  // inside double quotes. The top of the stack is where the next character lands.
  private stack: { mode: Mode; parens: number }[] = [{ mode: 'plain', parens: 0 }];
  escaped = false;
  backquote = false;
  /** The last character was an unescaped `$` (not the second of `$$`). */
  private dollar = false;
  private wordStart = true;
  /** The unquoted word being read in plain mode; undefined once part of it was quoted. */
  private word: string | undefined = '';
  /**
   * Set when the text holds a construct this tracker does not follow (a `case` inside $( ),
   * whose patterns end in an unmatched `)`; quotes inside a shell ${...}): past it, the
   * tracker may disagree with the shell about the quoting, so every later value is refused.
   */
  private lost: string | undefined;
  private pending: Heredoc[] = [];
  private heredoc: Heredoc | undefined;
  private line = '';
  private lineHasData = false;
  private reading: { heredoc: Heredoc; raw: string; quote: string | undefined; started: boolean } | undefined;
  private prev = '';

  get mode(): Mode {
    return this.heredoc ? 'heredoc' : (this.stack[this.stack.length - 1] as { mode: Mode }).mode;
  }

  /** Feeds text the shell will read; `data` marks interpolated characters. */
  feed(text: string, data: boolean): void {
    for (const c of text) this.step(c, data);
  }

  /** Call before an interpolated value is inserted. */
  beforeValue(): void {
    if (this.escaped) throw new ShellTemplateError('an interpolation right after a backslash cannot be quoted; remove the backslash');
    if (this.backquote) throw new ShellTemplateError('interpolation inside `backquotes` cannot be quoted safely; use $( ) instead');
    if (this.reading) throw new ShellTemplateError('a here-document delimiter cannot be interpolated');
    if (this.dollar && (this.mode === 'plain' || this.mode === 'double')) throw new ShellTemplateError('a bare $ right before an interpolation changes its quoting in bash; write \\$ for a literal $');
    if (this.lost) throw new ShellTemplateError(this.lost);
    if (this.mode === 'ansi') throw new ShellTemplateError("interpolation inside a $'...' string cannot be quoted safely; pass the value in env: and use \"$NAME\"");
    if (this.mode === 'param') throw new ShellTemplateError('interpolation inside a shell ${...} expansion cannot be quoted safely; pass the value in env: and use "$NAME"');
  }

  get heredocQuoted(): boolean {
    return this.heredoc?.quoted ?? false;
  }

  private push(mode: Mode): void {
    if (mode === 'plain') this.word = '';
    this.stack.push({ mode, parens: 0 });
  }

  private pop(): void {
    if (this.stack.length > 1) this.stack.pop();
  }

  private step(c: string, data: boolean): void {
    const prev = this.prev;
    this.prev = c;
    if (this.reading && this.readDelimiter(c)) return;
    const top = this.stack[this.stack.length - 1] as { mode: Mode; parens: number };
    if (this.heredoc) {
      const h = this.heredoc;
      if (c !== '\n') {
        this.line += c;
        if (data) this.lineHasData = true;
        return;
      }
      const line = h.stripTabs ? this.line.replace(/^\t+/, '') : this.line;
      if (line === h.delimiter) {
        if (this.lineHasData) throw new ShellTemplateError(`an interpolated value would end the here-document "${h.delimiter}"`);
        this.heredoc = this.pending.shift();
      }
      this.line = '';
      this.lineHasData = false;
      return;
    }
    const dollar = this.dollar;
    this.dollar = false;
    switch (top.mode) {
      case 'comment':
        if (c === '\n') {
          this.pop();
          this.newline();
        }
        return;
      case 'single':
        if (c === "'") this.pop();
        return;
      case 'ansi':
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === "'") this.pop();
        return;
      case 'double':
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '$') this.dollar = !dollar;
        else if (c === '`') this.backquote = !this.backquote;
        else if (c === '(' && dollar) this.push('plain');
        else if (c === '{' && dollar) this.push('param');
        else if (c === '"') this.pop();
        return;
      case 'param':
        this.stepParam(c, dollar);
        return;
      default:
        this.stepPlain(c, dollar, prev, top);
    }
  }

  /** Inside a shell ${...}: only its end and the expansions nested in it are followed. */
  private stepParam(c: string, dollar: boolean): void {
    if (this.escaped) this.escaped = false;
    else if (c === '\\') this.escaped = true;
    else if (c === '$') this.dollar = !dollar;
    else if (c === '(' && dollar) this.push('plain');
    else if (c === '{' && dollar) this.push('param');
    else if (c === '}') this.pop();
    // bash and dash disagree on quotes (and nested braces) inside ${...} in "...".
    else if (`'"\`{`.includes(c)) this.lost ??= 'an interpolation after quotes inside a shell ${...} expansion cannot be quoted safely; pass the value in env: and use "$NAME"';
  }

  private stepPlain(c: string, dollar: boolean, prev: string, top: { mode: Mode; parens: number }): void {
    if (this.escaped) {
      this.escaped = false;
      // A backslash-newline joins lines: `ca\<newline>se` is still the word case.
      if (c !== '\n') {
        this.word = undefined;
        this.wordStart = false;
      }
      return;
    }
    if (/[\s;&|()<>]/.test(c)) this.endWord();
    else if (this.word !== undefined && c !== '\\') this.word += c;
    if (c === '$') this.dollar = !dollar;
    if (c === '\\') this.escaped = true;
    else if (c === "'") this.push(dollar ? 'ansi' : 'single');
    else if (c === '"') this.push('double');
    else if (c === '`') this.backquote = !this.backquote;
    else if (c === '#' && this.wordStart) this.push('comment');
    else if (c === '\n') this.newline();
    else if (c === '{' && dollar) this.push('param');
    else if (c === '(') {
      if (dollar) this.push('plain');
      else top.parens++;
    } else if (c === ')') {
      if (top.parens > 0) top.parens--;
      else this.pop();
    } else if (c === '<' && prev === '<') {
      // `<<` starts a here-document (a third `<` makes bash's here-string: a plain word).
      this.reading = { heredoc: { delimiter: '', stripTabs: false, quoted: false }, raw: '', quote: undefined, started: false };
    }
    if (c === "'" || c === '"' || c === '`') this.word = undefined;
    this.wordStart = /[\s;&|()<>]/.test(c);
  }

  /** Ends the unquoted word being read; a `case` inside $( ) makes the tracker lose its way. */
  private endWord(): void {
    // A pattern's `)` in `$(case x in a) ...;; esac)` would read as the end of the $( ).
    if (this.word === 'case' && this.stack.length > 1) {
      this.lost ??= 'an interpolation after a case ... esac inside $( ) cannot be quoted safely (its patterns end in an unmatched ")"); move the case out of the $( ) or pass the value in env: and use "$NAME"';
    }
    this.word = '';
  }

  /** Consumes the delimiter word after `<<`; returns true when the character was part of it. */
  private readDelimiter(c: string): boolean {
    const r = this.reading as NonNullable<ShellState['reading']>;
    if (!r.started) {
      if (c === '<' && r.raw === '') {
        this.reading = undefined; // here-string
        return true;
      }
      if (c === '-' && !r.heredoc.stripTabs) {
        r.heredoc.stripTabs = true;
        return true;
      }
      if (c === ' ' || c === '\t') return true;
      r.started = true;
    }
    if (r.quote) {
      if (c === r.quote) r.quote = undefined;
      else r.raw += c;
      return true;
    }
    if (c === "'" || c === '"') {
      r.quote = c;
      r.heredoc.quoted = true;
      return true;
    }
    if (c === '\\') {
      r.heredoc.quoted = true;
      return true;
    }
    if (/[\s;&|()<>]/.test(c)) {
      r.heredoc.delimiter = r.raw;
      this.pending.push(r.heredoc);
      this.reading = undefined;
      return false;
    }
    r.raw += c;
    return true;
  }

  private newline(): void {
    this.wordStart = true;
    this.escaped = false;
    // Here-document bodies start on the line after the `<<` (only at the top level).
    const next = this.pending.shift();
    if (next) {
      this.heredoc = next;
      this.line = '';
      this.lineHasData = false;
    }
  }
}

function words(v: unknown): string[] {
  if (v === undefined || v === null) return [''];
  if (Array.isArray(v)) return v.map((x) => (x !== null && typeof x === 'object' ? JSON.stringify(x) : String(x ?? '')));
  return [typeof v === 'object' ? JSON.stringify(v) : String(v)];
}

/** True for `raw(expr)`: the one way to paste a value into a command as shell code. */
export function isRawCall(expr: Expr | undefined): boolean {
  return expr?.type === 'CallExpression' && (expr.callee as Expr).type === 'Identifier' && (expr.callee as Expr).name === 'raw';
}

/** The text to insert for a value at the shell's current position. */
function quoted(state: ShellState, v: unknown): string {
  const ws = words(v);
  switch (state.mode) {
    case 'plain':
      // An array becomes one word per element, as zx does.
      return ws.map(quoteWord).join(' ');
    case 'single':
      return ws.join(' ').replace(/'/g, `'\\''`);
    case 'double':
      // Inside "...", a backslash makes $ ` " and \ literal; everything else already is.
      return ws.join(' ').replace(/[\\$`"]/g, '\\$&');
    case 'comment':
      // A newline would end the comment and start a command.
      return ws.join(' ').replace(/[\r\n]/g, ' ');
    case 'heredoc':
      return state.heredocQuoted ? ws.join(' ') : ws.join(' ').replace(/[\\$`]/g, '\\$&');
    case 'ansi':
    case 'param':
      throw new ShellTemplateError('internal: beforeValue refuses this quoting context');
  }
}

/** Renders a shell command template; throws ShellTemplateError or the resolver's error. */
export function renderShell(template: string, resolve: Resolver): string {
  const state = new ShellState();
  let out = '';
  for (const seg of parseTemplate(template)) {
    if (!seg.expr) {
      const text = seg.text ?? '';
      state.feed(text, false);
      out += text;
      continue;
    }
    const value = evaluate(seg.expr, resolve);
    if (isRawCall(seg.expr)) {
      const text = words(value).join(' ');
      state.feed(text, false);
      out += text;
      continue;
    }
    state.beforeValue();
    const text = quoted(state, value);
    state.feed(text, true);
    out += text;
  }
  return out;
}

/** Problems a shell template has whatever its values are (checked by validate). */
export function checkShellTemplate(template: string): { message: string; warning?: boolean; offset?: number }[] {
  const out: { message: string; warning?: boolean; offset?: number }[] = [];
  let segs;
  try {
    segs = parseTemplate(template);
  } catch {
    return out; // reported by the reference checks
  }
  const only = segs.length === 1 ? segs[0] : undefined;
  if (only?.expr && !isRawCall(only.expr)) {
    out.push({ message: `the whole command is \${${only.source}}, which runs as one quoted word; if the value is a command line, write \${raw(${only.source})}`, warning: true, offset: only.offset });
  }
  for (const s of segs) {
    if (isRawCall(s.expr)) {
      out.push({ message: `\${${s.source}} pastes the value into the shell command as code, not as data`, warning: true, offset: s.offset });
    }
  }
  try {
    renderShell(template, () => 'x');
  } catch (err) {
    if (err instanceof ShellTemplateError) out.push({ message: err.message });
  }
  return out;
}
