// ASCII-only case folding, as Dovecot and Pigeonhole fold names, keywords and
// i;ascii-casemap values: A-Z become a-z, every other character (non-ASCII
// letters included) stays as it is. Pure.

export function asciiLowerCase(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : text;
}
