// The Sieve script both benchmarks run (scripts/bench.mjs for the LDA,
// scripts/bench-lmtp.mjs for the LMTP server): `rules` rules as people write
// them (header, address, size and body-free tests sorting into folders), none
// matching the bench messages, so every rule is evaluated and the message is
// kept.

export function sieveScript(rules) {
  const lines = [];
  for (let rule = 0; rule < rules; rule++) {
    const test = [
      `header :contains "subject" "topic ${rule}"`,
      `address :is :domain "from" "list${rule}.example.net"`,
      `anyof (header :is "x-list" "list-${rule}", size :over ${1000 + rule}K)`,
      `header :matches "to" "*team-${rule}@*"`,
    ][rule % 4];
    lines.push(`if ${test} {\n  addflag "$Rule${rule}";\n  fileinto "Folder${rule}";\n  stop;\n}`);
  }
  return `require ["fileinto", "imap4flags"];\n${lines.join('\n')}\n`;
}
