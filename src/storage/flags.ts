// IMAP flags of a message being saved, sorted out the way Dovecot's storage
// takes them (mailbox_save_set_flags with mailbox_keywords_create_valid):
// the system flags \Answered \Flagged \Deleted \Seen \Draft (any case);
// \Recent, which no save can set, and unknown backslash names are dropped;
// keywords that IMAP could not carry as an atom (empty, a space, ( ) { " \
// ] % * or another control character, 8-bit bytes) or that are longer than
// Dovecot's mail_max_keyword_length (50) are dropped one by one. Keywords
// are case-insensitive: the first spelling of each is kept, in the order
// given. Pure; never throws.

import { asciiLowerCase } from '../message/ascii.js';

export type SystemFlag = 'answered' | 'flagged' | 'deleted' | 'seen' | 'draft';

export interface MessageFlags {
  system: ReadonlySet<SystemFlag>;
  /** valid keywords, without case-insensitive duplicates, in the order given */
  keywords: readonly string[];
}

/** Dovecot's mail_max_keyword_length default. */
export const MAX_KEYWORD_LENGTH = 50;

const SYSTEM_FLAGS: ReadonlyMap<string, SystemFlag> = new Map([
  ['\\answered', 'answered'],
  ['\\flagged', 'flagged'],
  ['\\deleted', 'deleted'],
  ['\\seen', 'seen'],
  ['\\draft', 'draft'],
]);

/** Bytes IMAP does not allow in an atom, as Dovecot's IS_ATOM_SPECIAL: controls, space, ( ) { " \ ] % * and DEL. */
// eslint-disable-next-line no-control-regex
const ATOM_SPECIAL = /[\x00-\x20()"{\\\]%*\x7f]/;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** Dovecot's mailbox_keyword_is_valid (with the default mail_max_keyword_length). */
export function isValidKeyword(name: string): boolean {
  return name !== '' && name.length <= MAX_KEYWORD_LENGTH && !ATOM_SPECIAL.test(name) && !NON_ASCII.test(name);
}

/** The flags a save stores, from the names asked for (see the top of this file). */
export function parseMessageFlags(flags: readonly string[] | undefined): MessageFlags {
  const system = new Set<SystemFlag>();
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags ?? []) {
    if (flag.startsWith('\\')) {
      const known = SYSTEM_FLAGS.get(asciiLowerCase(flag));
      if (known !== undefined) system.add(known);
      continue;
    }
    const key = asciiLowerCase(flag);
    if (!isValidKeyword(flag) || seen.has(key)) continue;
    seen.add(key);
    keywords.push(flag);
  }
  return { system, keywords };
}

/** True when the message carries any flag or keyword (Maildir: it goes to cur/). */
export function hasAnyFlag(flags: MessageFlags): boolean {
  return flags.system.size > 0 || flags.keywords.length > 0;
}
