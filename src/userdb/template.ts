// Dovecot's userdb templates (auth/userdb-template.c): the `static` driver's
// args and every userdb's default_fields / override_fields, written as
// space-separated `key=value` words. uid and gid values may be account names
// and are resolved once, when the template is read; other values are
// %-expanded at each lookup.
//
// Failure: an empty key or an unknown uid/gid name is a configuration error,
// thrown as a temporary DeliveryFailure naming the userdb (Dovecot refuses
// to start); a bad %-variable at lookup throws a temporary DeliveryFailure
// from expandVariables().

import { expandVariables, type VariableTable } from '../config/var-expand.js';
import { temporary } from '../deliver/failure.js';
import type { UserdbField } from './driver.js';
import { gidOf, uidOf } from './system-accounts.js';

/** key and unexpanded value; undefined for a bare `key` (it becomes ""). */
export type TemplateField = readonly [key: string, value: string | undefined];

/** Reads a template; `userdbName` (e.g. "static userdb at FILE:LINE") labels errors. */
export async function parseTemplate(text: string, userdbName: string): Promise<TemplateField[]> {
  const fields: TemplateField[] = [];
  for (const word of text.split(' ').filter((part) => part !== '')) {
    const equals = word.indexOf('=');
    const key = equals < 0 ? word : word.slice(0, equals);
    const value = equals < 0 ? undefined : word.slice(equals + 1);
    if (key === '') throw temporary(`${userdbName}: Empty key (=${value ?? ''})`);
    fields.push([key, await resolveIdentity(key, value, userdbName)]);
  }
  return fields;
}

/** The template's fields with their values %-expanded. */
export function templateFields(template: readonly TemplateField[], variables: VariableTable): UserdbField[] {
  return template.map(([key, value]) => [key, value === undefined ? '' : expandVariables(value, variables)]);
}

async function resolveIdentity(key: string, value: string | undefined, userdbName: string): Promise<string | undefined> {
  const kind = key.toLowerCase();
  if (kind !== 'uid' && kind !== 'gid') return value;
  const id = kind === 'uid' ? await uidOf(value ?? '') : await gidOf(value ?? '');
  if (id === null) throw temporary(`${userdbName}: Invalid ${kind}: ${value ?? ''}`);
  return String(id);
}
