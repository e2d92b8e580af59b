// Dovecot's str_sanitize for log text: control characters become '?', and
// text longer than the limit is cut to end in "...".

export function sanitizeForLog(text: string, maxLength: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length <= maxLength ? clean : `${clean.slice(0, maxLength - 3)}...`;
}
