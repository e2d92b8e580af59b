#!/bin/sh
# `npm run demo`: delivers examples/welcome.eml with examples/dovetail.conf into
# demo/Maildir inside the checkout, the way Postfix's mailbox_command runs
# Dovetail (as the recipient, with HOME and USER set), and prints where it landed.
set -eu
cd "$(dirname "$0")/.."
demo_home="$PWD/demo"
mkdir -p "$demo_home"
run_as_recipient() {
  if [ "$(id -u)" = 0 ]; then
    # Dovetail never delivers as root: play the part of an unprivileged recipient.
    chown nobody "$demo_home"
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"
  else
    "$@"
  fi
}
run_as_recipient env HOME="$demo_home" USER=demo \
  bin/dovetail -c examples/dovetail.conf -o log_path=/dev/stderr \
  -f postmaster@example.org -a demo@example.org <examples/welcome.eml
landed=$(ls -t "$demo_home"/Maildir/new/* | head -n 1)
echo "delivered to $landed"
