// Builds the userdb configs and lookup contexts the userdb tests hand to
// lookupUser: a userdb block with Dovecot's defaults (what a bare
// `userdb { driver = ... args = ... }` reads as), and an LDA context on
// mx.example.net with auth_username_format %Lu. Pure: no I/O.

import type { UserdbConfig } from '../../src/config/types.js';
import type { LookupContext } from '../../src/userdb/lookup.js';

/** A userdb block as `driver`/`args` with every other setting at Dovecot's default, unless `settings` says otherwise. */
export function userdbConfig(driver: string, args: string, settings: Partial<UserdbConfig> = {}): UserdbConfig {
  return {
    driver,
    args,
    overrideFields: '',
    defaultFields: '',
    skip: 'never',
    resultSuccess: 'return-ok',
    resultFailure: 'continue',
    resultInternalfail: 'continue',
    origin: 'test.conf:1',
    ...settings,
  };
}

/** dovecot-lda's lookup context (service lda, %Lu), with `settings` on top (e.g. authUsernameChars: '' for any character). */
export function lookupContext(settings: Partial<LookupContext> = {}): LookupContext {
  return { service: 'lda', hostname: 'mx.example.net', authUsernameFormat: '%Lu', ...settings };
}
