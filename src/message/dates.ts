// The dates Dovecot writes, and the English names they use: a message's Date
// or Received date (message_date_create), shared by Sieve's outgoing mail and
// the LMTP server's Received header. Pure.

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** Dovecot's message_date_create(): "Mon, 02 Dec 2024 09:05:01 +0100", in the given zone (default: local). */
export function formatMessageDate(date: Date, zoneOffsetMinutes = -date.getTimezoneOffset()): string {
  const local = new Date(date.getTime() + zoneOffsetMinutes * 60_000);
  const two = (value: number) => String(value).padStart(2, '0');
  const offset = Math.abs(zoneOffsetMinutes);
  return (
    `${WEEKDAYS[local.getUTCDay()]}, ${two(local.getUTCDate())} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ` +
    `${zoneOffsetMinutes < 0 ? '-' : '+'}${two(Math.floor(offset / 60))}${two(offset % 60)}`
  );
}
