// The `static` userdb: `args = uid=vmail gid=vmail home=/var/vmail/%d/%n`
// answers the same fields (%-expanded) for every user.
//
// Dovecot's static userdb without `allow_all_users=yes` checks that the user
// exists by asking the passdb; Dovetail reads no passdbs, so it answers every
// user as existing whatever allow_all_users says. That is what Dovecot does
// for LDA with the usual companion passdb (static, or any passdb that knows
// every user); with a passdb that rejects unknown users, Dovecot would bounce
// where Dovetail delivers, so recipients must be checked before delivery
// (Postfix virtual_mailbox_maps or similar).
//
// Failure: unknown uid/gid names in args are a configuration error (temporary
// DeliveryFailure, from template.ts); so is a bad %-variable at lookup.

import type { UserdbDriver } from './driver.js';
import { parseTemplate, templateFields } from './template.js';

const ALLOW_ALL_USERS = 'allow_all_users';

export async function staticDriver(args: string, userdbName: string): Promise<UserdbDriver> {
  const template = (await parseTemplate(args, userdbName)).filter(([key]) => key !== ALLOW_ALL_USERS);
  return {
    lookup: async (_username, variables) => templateFields(template, variables),
  };
}
