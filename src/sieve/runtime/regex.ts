// POSIX extended regular expressions for the Sieve :regex match type, as
// Pigeonhole compiles them with glibc's regcomp(REG_EXTENDED), plus
// REG_ICASE for i;ascii-casemap: parsed here and translated into a JS RegExp
// that runs on V8's linear-time engine (flag 'l', switched on once, lazily,
// with --enable-experimental-regexp-engine), so no pattern, however hostile
// ("(a+)+b"), can backtrack for ever on a long header or body.
//
// Like Pigeonhole, which runs regexec in the C locale, patterns and texts are
// octets: `.` is one octet of the UTF-8 text, "[é]" is the set of its two
// octets, "é{2}" repeats its last octet. The RegExp therefore runs on octet
// strings (toOctetString: one JS character U+0000..U+00FF per octet).
//
// The grammar is glibc's: `|`, `( )` groups, `* + ? {m} {m,} {,n} {m,n}`
// (stackable: "a**"), `.`, `^ $` (anchors anywhere), bracket expressions with
// `]` first, ranges, [:class:] (C locale), [.c.] and [=c=] of one character,
// no escapes inside brackets; outside them `\` makes the next character
// literal (so `\d` is "d" and `\n` is "n"), except the GNU operators \w \W \s
// \S \b \B \` \'. An unmatched `)` is a literal; `{` always opens an interval.
// Case folding is ASCII only, as in the C locale, and follows glibc's
// REG_ICASE, which upper-cases pattern and text: range ends are upper-cased
// first ("[_-a]" is an error) and an escaped lower-case letter ("\a")
// matches nothing.
//
// Errors (thrown as Error, with glibc's regerror text lower-cased as
// Pigeonhole prints it): the syntax errors glibc reports, and three things
// this engine refuses although glibc accepts them: back-references (\1..\9,
// not regular, so not linear), the GNU word-edge anchors \< and \> (they need
// look-around), and counted repetitions whose unrolling adds more than
// MAX_UNROLLED_ELEMENTS elements: the linear engine's time is the text's
// length times the states that can be alive at once, and ".{0,N}" keeps N
// alive (".{0,1000}" on 100 KB takes about two seconds).
//
// A documented deviation: POSIX picks the leftmost-longest match and the
// longest sub-matches, JS alternation the leftmost alternative that works.
// Whether a value matches never differs, but the match variables can:
// "(a|ab)c?" on "abc" gives POSIX ${0} "abc" ${1} "ab", JS "a" and "a";
// "(|a)" on "a" gives POSIX "a" "a", JS "" "".

/** Elements (characters, sets, anchors) that unrolling {m,n} may add to a pattern. */
export const MAX_UNROLLED_ELEMENTS = 1000;
/** glibc's RE_DUP_MAX */
const MAX_REPETITION = 0x7fff;
/** interval bounds that are no number: empty, or not all digits */
const NO_NUMBER = -1;
const BAD_NUMBER = -2;
const MAX_OCTET = 0xff;

/** A set of octets: sorted, disjoint, non-adjacent inclusive ranges. */
type OctetSet = [number, number][];

type RegexNode =
  | { type: 'set'; set: OctetSet }
  | { type: 'assertion'; source: '^' | '$' | '\\b' | '\\B' }
  | { type: 'group'; body: RegexNode }
  | { type: 'sequence'; items: RegexNode[] }
  | { type: 'alternation'; branches: RegexNode[] }
  | { type: 'repeat'; body: RegexNode; min: number; max: number };

// ---------------------------------------------------------------------------
// Octet sets

function normalise(ranges: OctetSet): OctetSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: OctetSet = [];
  for (const [low, high] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged;
}

function complement(set: OctetSet): OctetSet {
  const result: OctetSet = [];
  let next = 0;
  for (const [low, high] of set) {
    if (low > next) result.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= MAX_OCTET) result.push([next, MAX_OCTET]);
  return result;
}

/** The set plus the other case of every ASCII letter in it. */
function withAsciiCases(set: OctetSet): OctetSet {
  const added: OctetSet = [];
  for (const [low, high] of set) {
    for (const [from, to, shift] of [
      [0x41, 0x5a, 0x20],
      [0x61, 0x7a, -0x20],
    ] as const) {
      const start = Math.max(low, from);
      const end = Math.min(high, to);
      if (start <= end) added.push([start + shift, end + shift]);
    }
  }
  return normalise([...set, ...added]);
}

const range = (from: string, to: string): [number, number] => [from.charCodeAt(0), to.charCodeAt(0)];

/** POSIX character classes in the C locale (ASCII only). */
const CHARACTER_CLASSES: Readonly<Record<string, OctetSet>> = {
  alpha: [range('A', 'Z'), range('a', 'z')],
  upper: [range('A', 'Z')],
  lower: [range('a', 'z')],
  digit: [range('0', '9')],
  xdigit: [range('0', '9'), range('A', 'F'), range('a', 'f')],
  alnum: [range('0', '9'), range('A', 'Z'), range('a', 'z')],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  punct: [range('!', '/'), range(':', '@'), range('[', '`'), range('{', '~')],
  print: [[0x20, 0x7e]],
  graph: [[0x21, 0x7e]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
};

/** GNU \w: alnum and "_" */
const WORD: OctetSet = [range('0', '9'), range('A', 'Z'), range('_', '_'), range('a', 'z')];
const SPACE = CHARACTER_CLASSES.space!;
const ANY: OctetSet = [[0, MAX_OCTET]];

// ---------------------------------------------------------------------------
// Parsing

const ERROR = {
  pattern: 'invalid regular expression',
  paren: 'unmatched ( or \\(',
  preceding: 'invalid preceding regular expression',
  backslash: 'trailing backslash',
  range: 'invalid range end',
  bracket: 'unmatched [, [^, [:, [., or [=',
  className: 'invalid character class name',
  collation: 'invalid collation character',
  intervalContent: 'invalid content of \\{\\}',
  interval: 'unmatched \\{',
  size: 'regular expression too big',
  backReference: 'back-references (\\1 to \\9) are not supported',
  wordEdge: 'the word start and end anchors \\< and \\> are not supported',
} as const;

/** A bracket element: one character (a range end) or a set that cannot end a range. */
type BracketElement = { octet: number } | { set: OctetSet };

class PosixRegexParser {
  /** the pattern's octets, one character each */
  private readonly text: string[];
  private position = 0;

  constructor(
    pattern: string,
    private readonly caseInsensitive: boolean,
  ) {
    this.text = Array.from(toOctetString(pattern));
  }

  parse(): RegexNode {
    return this.alternation(0);
  }

  private peek(offset = 0): string | undefined {
    return this.text[this.position + offset];
  }

  private alternation(depth: number): RegexNode {
    const branches = [this.branch(depth)];
    while (this.peek() === '|') {
      this.position++;
      branches.push(this.branch(depth));
    }
    return branches.length === 1 ? branches[0]! : { type: 'alternation', branches };
  }

  private branch(depth: number): RegexNode {
    const items: RegexNode[] = [];
    for (;;) {
      const next = this.peek();
      if (next === undefined || next === '|' || (next === ')' && depth > 0)) break;
      if (next === '*' || next === '+' || next === '?' || next === '{') {
        const last = items.pop();
        if (last === undefined || last.type === 'assertion') throw new Error(ERROR.preceding);
        items.push(this.quantifier(last));
      } else {
        items.push(this.atom(depth));
      }
    }
    return items.length === 1 ? items[0]! : { type: 'sequence', items };
  }

  private quantifier(body: RegexNode): RegexNode {
    const operator = this.peek()!;
    this.position++;
    if (operator === '*') return { type: 'repeat', body, min: 0, max: Infinity };
    if (operator === '+') return { type: 'repeat', body, min: 1, max: Infinity };
    if (operator === '?') return { type: 'repeat', body, min: 0, max: 1 };
    return { type: 'repeat', body, ...this.interval() };
  }

  /**
   * The bounds of an interval, after its "{", read as glibc reads them:
   * digits up to "," (escaped or not) or "}"; anything else makes it invalid,
   * which is "unmatched \{" when the pattern ends first.
   */
  private interval(): { min: number; max: number } {
    const lower = this.intervalNumber();
    // "{,n}" is "{0,n}"; "{}" is invalid
    if (lower.value === NO_NUMBER && lower.stop !== 'comma') throw new Error(ERROR.intervalContent);
    const min = lower.value === NO_NUMBER ? 0 : lower.value;
    const upper = min !== BAD_NUMBER && lower.stop === 'comma' ? this.intervalNumber() : { value: min, stop: lower.stop };
    if (min === BAD_NUMBER || upper.value === BAD_NUMBER) throw new Error(upper.stop === 'end' ? ERROR.interval : ERROR.intervalContent);
    const max = upper.value === NO_NUMBER ? Infinity : upper.value;
    if (upper.stop !== 'close' || min > max) throw new Error(ERROR.intervalContent);
    if ((max === Infinity ? min : max) > MAX_REPETITION) throw new Error(ERROR.size);
    return { min, max };
  }

  /** One bound of an interval and what ended it; NO_NUMBER when empty, BAD_NUMBER when not all digits. */
  private intervalNumber(): { value: number; stop: 'close' | 'comma' | 'end' } {
    let value = NO_NUMBER;
    for (;;) {
      let character = this.peek();
      if (character === undefined) return { value: BAD_NUMBER, stop: 'end' };
      this.position++;
      const escaped = character === '\\' && this.peek() !== undefined;
      if (escaped) character = this.text[this.position++]!;
      if (character === '}' && !escaped) return { value, stop: 'close' };
      if (character === ',') return { value, stop: 'comma' };
      const digit = !escaped && character >= '0' && character <= '9';
      value = !digit || value === BAD_NUMBER ? BAD_NUMBER : Math.min(MAX_REPETITION + 1, Math.max(value, 0) * 10 + Number(character));
    }
  }

  private atom(depth: number): RegexNode {
    const character = this.peek()!;
    this.position++;
    switch (character) {
      case '(': {
        const body = this.alternation(depth + 1);
        if (this.peek() !== ')') throw new Error(ERROR.paren);
        this.position++;
        return { type: 'group', body };
      }
      case '.':
        return { type: 'set', set: ANY };
      case '^':
      case '$':
        return { type: 'assertion', source: character };
      case '[':
        return { type: 'set', set: this.bracket() };
      case '\\':
        return this.escape();
      default:
        return this.literal(character.charCodeAt(0));
    }
  }

  private literal(octet: number): RegexNode {
    const set: OctetSet = [[octet, octet]];
    return { type: 'set', set: this.caseInsensitive ? withAsciiCases(set) : set };
  }

  private escape(): RegexNode {
    const character = this.peek();
    if (character === undefined) throw new Error(ERROR.backslash);
    this.position++;
    switch (character) {
      case 'w':
        return { type: 'set', set: WORD };
      case 'W':
        return { type: 'set', set: complement(WORD) };
      case 's':
        return { type: 'set', set: SPACE };
      case 'S':
        return { type: 'set', set: complement(SPACE) };
      case 'b':
        return { type: 'assertion', source: '\\b' };
      case 'B':
        return { type: 'assertion', source: '\\B' };
      case '`':
        return { type: 'assertion', source: '^' };
      case "'":
        return { type: 'assertion', source: '$' };
      case '<':
      case '>':
        throw new Error(ERROR.wordEdge);
      default:
        if (character >= '1' && character <= '9') throw new Error(ERROR.backReference);
        // glibc's REG_ICASE upper-cases the text but not an escaped letter: "\a" matches nothing
        if (this.caseInsensitive && character >= 'a' && character <= 'z') return { type: 'set', set: [] };
        return this.literal(character.charCodeAt(0));
    }
  }

  /** A bracket expression, after its "[": the set it matches. */
  private bracket(): OctetSet {
    const negated = this.peek() === '^';
    if (negated) this.position++;
    if (this.peek() === undefined) throw new Error(ERROR.pattern);
    const ranges: OctetSet = [];
    let first = true;
    for (;;) {
      const next = this.peek();
      if (next === undefined) throw new Error(ERROR.bracket);
      if (next === ']' && !first) {
        this.position++;
        break;
      }
      // A "-" that is neither first, last nor a range's end is an error ("[a-c-e]", "[[:alpha:]-z]").
      if (next === '-' && !first && this.peek(1) !== ']') throw new Error(this.peek(1) === undefined ? ERROR.bracket : ERROR.range);
      first = false;
      const start = this.bracketElement();
      if ('set' in start) {
        ranges.push(...start.set);
        continue;
      }
      if (this.peek() !== '-' || this.peek(1) === ']' || this.peek(1) === undefined) {
        ranges.push([start.octet, start.octet]);
        continue;
      }
      this.position++;
      const end = this.bracketElement();
      if ('set' in end) throw new Error(ERROR.range);
      const [low, high] = this.caseInsensitive
        ? [foldAsciiToUpper(start.octet), foldAsciiToUpper(end.octet)]
        : [start.octet, end.octet];
      if (low > high) throw new Error(ERROR.range);
      ranges.push([low, high]);
    }
    const set = this.caseInsensitive ? withAsciiCases(normalise(ranges)) : normalise(ranges);
    return negated ? complement(set) : set;
  }

  private bracketElement(): BracketElement {
    const character = this.peek()!;
    const kind = this.peek(1);
    this.position++;
    if (character !== '[' || (kind !== ':' && kind !== '.' && kind !== '=')) return { octet: character.charCodeAt(0) };
    this.position++;
    const terminator = this.findTerminator(kind);
    const name = this.text.slice(this.position, terminator).join('');
    this.position = terminator + 2;
    if (kind === ':') {
      const set = Object.hasOwn(CHARACTER_CLASSES, name) ? CHARACTER_CLASSES[name] : undefined;
      if (set === undefined) throw new Error(ERROR.className);
      return { set };
    }
    if (name.length !== 1) throw new Error(ERROR.collation);
    const octet = name.charCodeAt(0);
    return kind === '.' ? { octet } : { set: [[octet, octet]] };
  }

  /** The index of the ":]" (".]", "=]") closing a bracket element whose content starts here. */
  private findTerminator(kind: string): number {
    for (let index = this.position; index + 1 < this.text.length; index++) {
      if (this.text[index] === kind && this.text[index + 1] === ']') return index;
    }
    throw new Error(ERROR.bracket);
  }
}

/** REG_ICASE compares upper-cased text, so range ends are upper-cased: "[_-a]" is "[_-A]", an error. */
function foldAsciiToUpper(octet: number): number {
  return octet >= 0x61 && octet <= 0x7a ? octet - 0x20 : octet;
}

// ---------------------------------------------------------------------------
// Translation to a JS pattern. Only ( ) (?: ) | * + ? and classes are used:
// counted repetitions are unrolled here, because V8's linear engine refuses
// a {m,n} whose expansion exceeds 16 copies (and Node 20 refuses "a{16,}").

/** Elements of the pattern, each repetition body counted once, or as often as unrolling copies it. */
function elementCount(node: RegexNode, unrolled: boolean): number {
  switch (node.type) {
    case 'set':
    case 'assertion':
      return 1;
    case 'group':
      return elementCount(node.body, unrolled);
    case 'sequence':
      return node.items.reduce((sum, item) => sum + elementCount(item, unrolled), 0);
    case 'alternation':
      return node.branches.reduce((sum, branch) => sum + elementCount(branch, unrolled), 0);
    case 'repeat': {
      const copies = unrolled ? Math.max(1, node.max === Infinity ? node.min + 1 : node.max) : 1;
      return elementCount(node.body, unrolled) * copies;
    }
  }
}

function hasGroup(node: RegexNode): boolean {
  switch (node.type) {
    case 'group':
      return true;
    case 'sequence':
      return node.items.some(hasGroup);
    case 'alternation':
      return node.branches.some(hasGroup);
    case 'repeat':
      return hasGroup(node.body);
    default:
      return false;
  }
}

/** A JS source fragment; atomic when a quantifier may follow it directly. */
interface Fragment {
  source: string;
  atomic: boolean;
}

/** An octet, safe both inside and outside a class: letters and digits as they are, the rest as \xHH. */
function escapeOctet(octet: number): string {
  return (octet >= 0x30 && octet <= 0x39) || (octet >= 0x41 && octet <= 0x5a) || (octet >= 0x61 && octet <= 0x7a)
    ? String.fromCharCode(octet)
    : `\\x${octet.toString(16).padStart(2, '0')}`;
}

/** One octet of the set: the octet itself or a class ("[]", the empty set, matches nothing). */
function setSource(set: OctetSet): string {
  if (set.length === 1 && set[0]![0] === set[0]![1]) return escapeOctet(set[0]![0]);
  return `[${set.map(([low, high]) => (low === high ? escapeOctet(low) : `${escapeOctet(low)}-${escapeOctet(high)}`)).join('')}]`;
}

function atomic(fragment: Fragment): string {
  return fragment.atomic ? fragment.source : `(?:${fragment.source})`;
}

/** `copy` repeated min times, then up to max - min optional copies (max may be Infinity). */
function unrolled(copy: Fragment, min: number, max: number): string {
  let source = atomic(copy).repeat(min);
  if (max === Infinity) return source + `${atomic(copy)}*`;
  let optional = '';
  for (let count = min; count < max; count++) optional = `(?:${copy.source}${optional})?`;
  return source + optional;
}

/**
 * JS source for the node. `capturing` false emits groups as (?:), for the
 * extra copies of an unrolled repetition: only its last copy captures, so
 * the group numbers stay POSIX's and ${n} is the last iteration, as in POSIX.
 */
function translate(node: RegexNode, capturing: boolean): Fragment {
  switch (node.type) {
    case 'set':
      return { source: setSource(node.set), atomic: true };
    case 'assertion':
      return { source: node.source, atomic: false };
    case 'group':
      return { source: `${capturing ? '(' : '(?:'}${translate(node.body, capturing).source})`, atomic: true };
    case 'sequence':
      return { source: node.items.map((item) => translate(item, capturing).source).join(''), atomic: false };
    case 'alternation':
      return { source: node.branches.map((branch) => translate(branch, capturing).source).join('|'), atomic: false };
    case 'repeat':
      return { source: translateRepeat(node, capturing), atomic: false };
  }
}

function translateRepeat(node: Extract<RegexNode, { type: 'repeat' }>, capturing: boolean): string {
  const { body, min, max } = node;
  const own = translate(body, capturing);
  if (max === Infinity && min <= 1) return `${atomic(own)}${min === 0 ? '*' : '+'}`;
  if (min === 0 && max === 1) return `${atomic(own)}?`;
  if (!capturing || !hasGroup(body)) return unrolled(own, min, max);
  // Copies without groups, then the one copy that captures: the last iteration.
  const copy = translate(body, false);
  if (max === 0) return `(?:${own.source}){0}`;
  if (max === Infinity) return `${atomic(copy).repeat(min - 1)}${atomic(own)}+`;
  if (min > 0) return unrolled(copy, min - 1, max - 1) + own.source;
  return `(?:${unrolled(copy, 0, max - 1)}${own.source})?`;
}

// ---------------------------------------------------------------------------

let linearEngineEnabled = false;

/** V8 accepts the 'l' flag only once --enable-experimental-regexp-engine is set. */
function enableLinearEngine(): void {
  if (linearEngineEnabled) return;
  const v8 = process.getBuiltinModule('node:v8');
  v8.setFlagsFromString('--enable-experimental-regexp-engine');
  linearEngineEnabled = true;
}

/**
 * The pattern as a RegExp on V8's linear-time engine, to run on octet
 * strings (toOctetString(text)); case-insensitive for ASCII letters only.
 * Throws Error (message: the reason) for an invalid or unsupported pattern.
 */
export function compilePosixRegex(pattern: string, caseInsensitive: boolean): RegExp {
  const tree = new PosixRegexParser(pattern, caseInsensitive).parse();
  if (elementCount(tree, true) - elementCount(tree, false) > MAX_UNROLLED_ELEMENTS) throw new Error(ERROR.size);
  const source = translate(tree, true).source;
  enableLinearEngine();
  try {
    return new RegExp(source, 'l');
  } catch {
    throw new Error('too complex for the linear-time regular expression engine');
  }
}

/**
 * undefined when the pattern compiles, else the reason. Case-insensitive
 * (i;ascii-casemap) only refuses more: "[_-a]" is a bad range only there.
 */
export function isValidPosixRegex(pattern: string, caseInsensitive = false): string | undefined {
  try {
    compilePosixRegex(pattern, caseInsensitive);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** The text's UTF-8 octets, one JS character (U+0000..U+00FF) each: what the RegExps of compilePosixRegex run on. */
export function toOctetString(text: string): string {
  return ASCII_ONLY.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** Octets back to text; octets that are no valid UTF-8 (a match that split a character) become U+FFFD. */
export function fromOctetString(octets: string): string {
  return ASCII_ONLY.test(octets) ? octets : Buffer.from(octets, 'latin1').toString('utf8');
}
