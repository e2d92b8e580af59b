// The Sieve extensions Dovetail implements, which of them are on by default
// (Pigeonhole 0.5's defaults: everything but vacation-seconds), and the
// sieve_extensions / sieve_global_extensions setting syntax. Names are
// compared exactly, as Pigeonhole does (`require "FileInto"` is unknown).
// Pure; no failures (unknown names in the setting are ignored, as Pigeonhole
// ignores them with a warning).

export const ALL_EXTENSIONS: readonly string[] = [
  'fileinto',
  'reject',
  'ereject',
  'envelope',
  'encoded-character',
  'copy',
  'body',
  'variables',
  'vacation',
  'vacation-seconds',
  'relational',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'comparator-i;ascii-numeric',
  'subaddress',
  'imap4flags',
  'regex',
  'include',
  'mailbox',
  'date',
  'index',
  'environment',
  'ihave',
  'duplicate',
];

const OFF_BY_DEFAULT = new Set(['vacation-seconds']);

export const DEFAULT_ENABLED_EXTENSIONS: readonly string[] = ALL_EXTENSIONS.filter((name) => !OFF_BY_DEFAULT.has(name));

const KNOWN = new Set(ALL_EXTENSIONS);

/**
 * Applies a sieve_extensions-style value to `base`: "+ext" adds, "-ext"
 * removes; when no word has a sign, the words replace the set altogether. A
 * word without a sign in a value that has signed words adds too (Pigeonhole).
 * A value without words (unset or empty) leaves `base` as it is.
 */
export function parseExtensionsSetting(value: string, base: ReadonlySet<string>): Set<string> {
  const words = value.split(/[ \t]+/).filter((word) => word !== '');
  if (words.length === 0) return new Set(base);
  const relative = words.some((word) => word.startsWith('+') || word.startsWith('-'));
  const added = new Set<string>();
  const removed = new Set<string>();
  for (const word of words) {
    const name = word.startsWith('+') || word.startsWith('-') ? word.slice(1) : word;
    if (!KNOWN.has(name)) continue;
    if (word.startsWith('-')) removed.add(name);
    else added.add(name);
  }
  const result = relative ? new Set([...base].filter((name) => !removed.has(name))) : new Set<string>();
  for (const name of added) result.add(name);
  return result;
}
