// The typed view of dovecot.conf that Dovetail uses. Produced by
// src/config/settings.ts from the parsed file, `protocol lda {}` (or lmtp)
// overrides and -o overrides. Settings Dovetail does not use stay in `raw`.

export type MailFsync = 'optimized' | 'always' | 'never';

/** One `userdb { }` block (or the legacy `userdb NAME { }`). */
export interface UserdbConfig {
  /** passwd, passwd-file, static, sql, ... */
  driver: string;
  /** the `args` setting, unexpanded */
  args: string;
  /** `override_fields`, unexpanded, as written ("key=value key2=value2") */
  overrideFields: string;
  /** `default_fields`, unexpanded */
  defaultFields: string;
  /** `skip` = never | found | notfound (default never) */
  skip: string;
  /** `result_success` (default return-ok) */
  resultSuccess: string;
  /** `result_failure` (default continue) */
  resultFailure: string;
  /** `result_internalfail` (default continue) */
  resultInternalfail: string;
  /** config file and line of the block, for error messages */
  origin: string;
}

/** A `namespace NAME { }` block. */
export interface NamespaceConfig {
  name: string;
  type: 'private' | 'shared' | 'public';
  /** e.g. "" or "INBOX/" */
  prefix: string;
  /** hierarchy separator as the user sees it; "" means the layout's default */
  separator: string;
  inbox: boolean;
  /** this namespace's own mail_location; "" = the user's mail_location */
  location: string;
  hidden: boolean;
  /** yes | no | children */
  list: string;
  subscriptions: boolean;
  /** `mailbox NAME { auto = create|subscribe|no  special_use = ... }` */
  mailboxes: { name: string; auto: string; specialUse: string }[];
}

export interface Settings {
  mail_location: string;
  mail_home: string;
  mail_uid: string;
  mail_gid: string;
  hostname: string;
  postmaster_address: string;
  recipient_delimiter: string;
  lda_mailbox_autocreate: boolean;
  lda_mailbox_autosubscribe: boolean;
  lda_original_recipient_header: string;
  first_valid_uid: number;
  last_valid_uid: number;
  mail_temp_dir: string;
  mail_fsync: MailFsync;
  log_path: string;
  info_log_path: string;
  deliver_log_format: string;
  auth_username_format: string;
  /** lock methods in the order they are taken: dotlock, dotlock_try, fcntl, flock, lockf (checked by the mbox store) */
  mbox_read_locks: string;
  mbox_write_locks: string;
  /** seconds */
  mbox_lock_timeout: number;
  /** seconds after which an unchanged dotlock is stale */
  mbox_dotlock_change_timeout: number;
  /** seconds; 0 = no cap on lock waits */
  mail_max_lock_timeout: number;
  /** create dotlocks with O_EXCL (yes) or the NFS-safe link method (no) */
  dotlock_use_excl: boolean;
  /** group kept for creating spool dotlocks ("" = none) */
  mail_privileged_group: string;
  userdbs: UserdbConfig[];
  /** namespaces in file order; when the file has none, one implicit inbox namespace (prefix "", inbox yes) */
  namespaces: NamespaceConfig[];
  /** the `plugin { }` section: sieve, quota_rule, ... */
  plugin: Map<string, string>;
  /** `service NAME { executable = ... }` by service name (the last one wins): quota warnings run them */
  serviceExecutables: ReadonlyMap<string, string>;
  /** every effective top-level key = value (after protocol and -o overrides), for settings read later */
  raw: Map<string, string>;
}
