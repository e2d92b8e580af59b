// POSIX/GNU getopt(3) for short options, the way dovecot-lda reads its command
// line: "-f sender", "-fsender", grouped flags "-ek", "--" ends the options,
// and non-option arguments are collected (GNU permutation) so the caller can
// reject them. Pure; errors are returned, never thrown.

export interface ParsedOption {
  letter: string;
  /** the option's argument, for letters declared with ':' */
  value?: string;
}

export type GetoptResult =
  | { ok: true; options: ParsedOption[]; operands: string[] }
  | { ok: false; error: string };

/**
 * Parses argv (without node and script) against a getopt spec such as
 * "a:d:ef:" (a letter followed by ':' takes an argument).
 */
export function getopt(argv: readonly string[], spec: string): GetoptResult {
  const takesValue = new Map<string, boolean>();
  for (let i = 0; i < spec.length; i++) {
    takesValue.set(spec[i]!, spec[i + 1] === ':');
    if (spec[i + 1] === ':') i++;
  }
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      operands.push(arg);
      continue;
    }
    for (let pos = 1; pos < arg.length; pos++) {
      const letter = arg[pos]!;
      const wantsValue = takesValue.get(letter);
      if (wantsValue === undefined) return { ok: false, error: `invalid option -- '${letter}'` };
      if (!wantsValue) {
        options.push({ letter });
        continue;
      }
      if (pos + 1 < arg.length) {
        options.push({ letter, value: arg.slice(pos + 1) });
      } else if (i + 1 < argv.length) {
        options.push({ letter, value: argv[++i]! });
      } else {
        return { ok: false, error: `option requires an argument -- '${letter}'` };
      }
      break;
    }
  }
  return { ok: true, options, operands };
}
