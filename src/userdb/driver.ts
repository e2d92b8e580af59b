// What every userdb driver (passwd, passwd-file, static, sql) provides to
// lookup.ts: one lookup per user, answering the user's fields in order or
// "not here". Drivers do no field interpretation; lookup.ts applies
// Dovecot's field rules (uid/gid names, user renames, :protected, ...).
//
// Failure: a driver throws a temporary DeliveryFailure for an internal
// failure (unreadable file, getent error, database unreachable); lookup.ts then applies the
// userdb's result_internalfail rule.

import type { VariableTable } from '../config/var-expand.js';

/** One userdb field as key and value, e.g. ["mail", "maildir:~/Maildir"]. */
export type UserdbField = readonly [key: string, value: string];

export interface UserdbDriver {
  /**
   * The user's fields, or null when this userdb does not know the user.
   * `variables` is the %-variable table as it stands before this userdb's
   * fields are applied (Dovecot expands a driver's values with it).
   */
  lookup(username: string, variables: VariableTable): Promise<UserdbField[] | null>;
}
