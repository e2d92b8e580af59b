// What a userdb lookup returns. Drivers live beside this file, one per file.

export interface UserRecord {
  /** the username as looked up (after auth_username_format, e.g. lowercased) or as the userdb rewrote it (`user` field) */
  username: string;
  uid?: number;
  gid?: number;
  home?: string;
  /** the `mail` field: overrides mail_location for this user */
  mail?: string;
  /** set when the user is a system (passwd) user: supplementary groups come from initgroups(systemGroupsUser, gid) */
  systemGroupsUser?: string;
  /** every other field the userdb returned, e.g. quota_rule, sieve, namespace/inbox/prefix */
  fields: Map<string, string>;
}
