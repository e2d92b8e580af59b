// dovecot-lda's command line → an LdaRequest. Same letters and semantics as
// dovecot-lda 2.3 (getopt "a:d:ef:m:p:r:" plus the common "c:i:ko:OL").
// Every problem is a DeliveryFailure of kind 'usage' (exit 64), except the
// UTF-8 check of -m, which dovecot-lda treats as fatal (75).

import { getopt } from './getopt.js';
import { DeliveryFailure, temporary } from '../deliver/failure.js';
import { parseRecipientPath, parseSenderPath, type SmtpAddress } from '../message/smtp-address.js';

export const LDA_USAGE =
  'dovetail [-c <config file>] [-d <username>] [-p <path>] [-m <mailbox>] [-e] [-k] ' +
  '[-f <envelope sender>] [-a <original envelope recipient>] [-r <final envelope recipient>] [-o <key>=<value>]';

const LDA_GETOPT_SPEC = 'a:d:ef:m:p:r:c:i:ko:OL';

export interface LdaRequest {
  /** -c */
  configPath?: string;
  /** -O: use built-in defaults, read no config file */
  skipConfig: boolean;
  /** -o key=value, in order */
  overrides: string[];
  /** -d: look the user up in the userdb */
  destinationUser?: string;
  /** -p: read the message from this file instead of stdin */
  messagePath?: string;
  /** -m: the default mailbox; undefined (INBOX) when absent or "" */
  mailbox?: string;
  /** -e: report rejections and failures on stderr, exit 77 for rejections */
  stderrRejection: boolean;
  /** -f: undefined when absent; null for the null sender */
  sender?: SmtpAddress | null;
  /** -a */
  originalRecipient?: SmtpAddress;
  /** -r */
  finalRecipient?: SmtpAddress;
}

function usage(reason: string): DeliveryFailure {
  return new DeliveryFailure('usage', `${reason} (usage: ${LDA_USAGE})`);
}

/** Parses argv (without node and script). Throws DeliveryFailure. */
export function parseLdaArgs(argv: readonly string[]): LdaRequest {
  const parsed = getopt(argv, LDA_GETOPT_SPEC);
  if (!parsed.ok) throw usage(parsed.error);
  if (parsed.operands.length > 0) throw usage(`Unknown argument: ${parsed.operands[0]}`);

  const request: LdaRequest = { skipConfig: false, overrides: [], stderrRejection: false };
  for (const { letter, value = '' } of parsed.options) {
    switch (letter) {
      case 'a':
        request.originalRecipient = parseRecipientPath(value, '-a');
        break;
      case 'r':
        request.finalRecipient = parseRecipientPath(value, '-r');
        break;
      case 'f':
        // A "broken" but recognisable sender is delivered with <> as dovecot-lda does.
        request.sender = parseSenderPath(value).address;
        break;
      case 'd':
        request.destinationUser = value;
        break;
      case 'm':
        // -m "" is ignored, so that Postfix's `-m ${extension}` works without an extension.
        if (value === '') break;
        if (!isWellFormedUtf8(value)) throw temporary('Mailbox name not UTF-8');
        request.mailbox = value;
        break;
      case 'p':
        request.messagePath = value;
        break;
      case 'c':
        request.configPath = value;
        break;
      case 'o':
        request.overrides.push(value);
        break;
      case 'e':
        request.stderrRejection = true;
        break;
      case 'O':
        request.skipConfig = true;
        break;
      // -i (config instance), -L (log directly) and -k (keep the environment:
      // Dovetail never clears it, it execs no config reader) change nothing.
    }
  }
  return request;
}

/** argv arrives as UTF-8-decoded strings; invalid bytes became U+FFFD. */
function isWellFormedUtf8(text: string): boolean {
  return !text.includes('\uFFFD');
}
