// The contracts of Maildir++ quota (issue 9), between its parts:
//   settings.ts     the plugin {} quota settings (with userdb overrides) →
//                   QuotaSettings; pure
//   maildirsize.ts  the Maildir++ `maildirsize` file: read, recalculate by
//                   scanning, append a delivery, rewrite
//   enforce.ts      the check before a save and the update after a commit,
//                   as Dovecot's quota plugin does them, and the warnings
// The delivery core (src/deliver/) calls enforce.ts through a QuotaGuard;
// the LDA and the LMTP server turn its 'over-quota' DeliveryFailure into
// their outcome (src/deliver/outcomes.ts).

/** One limit: bytes and/or messages; undefined = no limit of that kind. */
export interface QuotaLimits {
  storageBytes?: number;
  messages?: number;
}

/** A quota_rule / quota_rule2 / ... line, as written: `*:storage=1G`, `Trash:storage=+10%%`, `Spam:ignore`. */
export interface QuotaRule {
  /** `*` for the user's whole quota, else a mailbox name (Dovecot matches it case-sensitively, INBOX insensitively) */
  mailbox: string;
  /** this mailbox does not count toward the quota */
  ignore: boolean;
  /** absolute bytes, or a percentage of the `*` rule's (`10%`), or added to it (`+10%`, `+1M`); see settings.ts */
  storage?: QuotaAmount;
  messages?: QuotaAmount;
}

export type QuotaAmount =
  | { kind: 'absolute'; value: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'relative-absolute'; value: number }
  | { kind: 'relative-percent'; percent: number };

/** A quota_warning / quota_warning2 / ... line: `storage=95%% quota-warning 95 %u`. */
export interface QuotaWarning {
  resource: 'storage' | 'messages';
  /** the threshold, in percent of the limit */
  percent: number;
  /** `-` before the resource: run when usage drops below the threshold instead */
  whenBelow: boolean;
  /** the service name and its arguments, %-expanded: ["quota-warning", "95", "user@example.com"] */
  command: string[];
}

export interface QuotaSettings {
  /** mail_plugins names quota and `quota` is set to a maildir backend */
  enabled: boolean;
  /** `quota = maildir:NAME:noenforcing:ignoreunlimited` */
  rootName: string;
  noEnforcing: boolean;
  ignoreUnlimited: boolean;
  rules: QuotaRule[];
  /** quota_grace: how far past the limit the last message may go (bytes, or percent of the storage limit) */
  grace: QuotaAmount;
  /** quota_max_mail_size: a message bigger than this is refused whatever the usage (0 = none) */
  maxMailSizeBytes: number;
  /** quota_exceeded_message (text, or the content of `</path>`); Dovecot's default otherwise */
  exceededMessage: string;
  warnings: QuotaWarning[];
  /** quota_full_tempfail (a top-level setting) */
  fullTempfail: boolean;
}

/** Usage as maildirsize counts it. */
export interface QuotaUsage {
  bytes: number;
  messages: number;
}
