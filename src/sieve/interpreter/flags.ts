// IMAP flag lists for the imap4flags extension (RFC 5232) as Pigeonhole
// keeps them: a flag list is a string of space-separated flag names; adding
// skips invalid names and names already present (compared without case);
// removing drops every case-insensitive match. Pure; never throws.
//
// A flag is valid when it is one of the five settable system flags (\Seen
// \Answered \Flagged \Deleted \Draft, any case) or an IMAP atom that does not
// start with a backslash (RFC 3501: no "(" ")" "{" SP CTL "%" "*" DQUOTE "\"
// "]"). \Recent and unknown \-names are invalid.

/** The system flags Sieve may set, in the order Pigeonhole lists them. */
const SYSTEM_FLAGS = ['\\Flagged', '\\Answered', '\\Deleted', '\\Seen', '\\Draft'] as const;

/** "\\seen" → "\\Seen"; undefined for anything that is not a settable system flag. */
function systemFlag(flag: string): string | undefined {
  const upper = flag.toUpperCase();
  return SYSTEM_FLAGS.find((system) => system.toUpperCase() === upper);
}

// eslint-disable-next-line no-control-regex
const ATOM_SPECIALS = /[(){ \x00-\x1f\x7f%*"\\\]]/;

export function isValidFlag(flag: string): boolean {
  if (flag.startsWith('\\')) return systemFlag(flag) !== undefined;
  return flag !== '' && !ATOM_SPECIALS.test(flag);
}

/** The flag names of a list of flag strings ("\\Seen $Label1" → two names). */
export function splitFlags(items: readonly string[]): string[] {
  return items.flatMap((item) => item.split(' ').filter((flag) => flag !== ''));
}

function hasFlag(list: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  return list.some((present) => present.toLowerCase() === lower);
}

/** addflag: the list with each valid, not yet present flag of `items` appended. */
export function addFlags(list: readonly string[], items: readonly string[]): string[] {
  const result = [...list];
  for (const flag of splitFlags(items)) {
    if (isValidFlag(flag) && !hasFlag(result, flag)) result.push(flag);
  }
  return result;
}

/** removeflag: the list without any flag of `items` (compared without case). */
export function removeFlags(list: readonly string[], items: readonly string[]): string[] {
  const removed = splitFlags(items).map((flag) => flag.toLowerCase());
  return list.filter((flag) => !removed.includes(flag.toLowerCase()));
}

/**
 * The flags a store action carries: valid flags only, system flags in their
 * canonical case and Pigeonhole's order (\Flagged \Answered \Deleted \Seen
 * \Draft) first, then the keywords in order, without case-insensitive
 * duplicates (Dovecot's keyword lookup ignores case).
 */
export function storeFlags(flags: readonly string[]): string[] {
  const system = new Set<string>();
  const keywords: string[] = [];
  for (const flag of flags) {
    if (!isValidFlag(flag)) continue;
    if (flag.startsWith('\\')) system.add(systemFlag(flag)!);
    else if (!hasFlag(keywords, flag)) keywords.push(flag);
  }
  return [...SYSTEM_FLAGS.filter((flag) => system.has(flag)), ...keywords];
}
