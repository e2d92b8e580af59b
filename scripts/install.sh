#!/usr/bin/env bash
# Installs Dovetail from this checkout (run as root; docs/install.md):
#   PREFIX/libexec/dovetail/dovetail       the executable
#   PREFIX/bin/dovetail                    a link to it
#   CONFDIR/dovetail.conf                  examples/dovetail.conf, only when there is none
#   PREFIX/libexec/dovetail/dovetail-relay with --relay: the setgid relay (root:mail 2755)
#   PREFIX/libexec/dovetail/install-manifest  what this script put there, for --uninstall
# The executable is dist/dovetail (`npm run package`) when it exists, else
# (or with --bundle) the bundle: dist/dovetail.js, the lock addon, the
# libraries it loads lazily, and a launcher that runs them with this
# machine's node by its absolute path (Postfix's PATH is /usr/bin:/bin).
#
# --root DIR installs into DIR as if it were / (a staging root, like DESTDIR):
# the paths compiled into the relay and written into the manifest are those
# without DIR. --uninstall removes exactly what the manifest lists: files,
# the link, the directories this script created (when empty), and the
# config only while its SHA-256 is still the one written (an admin's change
# keeps it). Running either twice does no harm. Fails with a message and
# exit 1 before changing anything it cannot finish (missing build, a foreign
# file where the link goes, no compiler or no group for --relay).
set -euo pipefail

usage() {
  echo "Usage: $0 [--root DIR] [--prefix DIR] [--confdir DIR] [--bundle] [--relay] [--uninstall]" >&2
  exit 1
}
fail() {
  echo "install.sh: $*" >&2
  exit 1
}

ROOT=
PREFIX=/usr/local
CONFDIR=/etc/dovetail
FORCE_BUNDLE=no
RELAY=no
UNINSTALL=no
RELAY_GROUP=mail
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || usage; ROOT=${2%/}; shift 2 ;;
    --prefix) [ $# -ge 2 ] || usage; PREFIX=${2%/}; shift 2 ;;
    --confdir) [ $# -ge 2 ] || usage; CONFDIR=${2%/}; shift 2 ;;
    --bundle) FORCE_BUNDLE=yes; shift ;;
    --relay) RELAY=yes; shift ;;
    --uninstall) UNINSTALL=yes; shift ;;
    *) usage ;;
  esac
done
for path in "$PREFIX" "$CONFDIR"; do
  case "$path" in
    /*) ;;
    *) fail "$path: not an absolute path" ;;
  esac
  # the manifest holds one path a line; the relay has the path in a C string
  case "$path" in
    *$'\n'* | *'"'* | *'\'*) fail "$path: newlines, quotes and backslashes are not supported" ;;
  esac
done

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
LIBEXEC=$PREFIX/libexec/dovetail
BINARY=$LIBEXEC/dovetail
RELAY_PATH=$LIBEXEC/dovetail-relay
LINK=$PREFIX/bin/dovetail
LINK_TARGET=../libexec/dovetail/dovetail
CONFIG=$CONFDIR/dovetail.conf
MANIFEST=$LIBEXEC/install-manifest

# Manifest lines: "dir PATH" (created by us), "file PATH", "link PATH",
# "config SHA256 PATH". Paths are without ROOT.
ENTRIES=()
record() { ENTRIES+=("$*"); }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- uninstall ----

uninstall() {
  if [ ! -f "$ROOT$MANIFEST" ]; then
    echo "Nothing to uninstall: no $ROOT$MANIFEST"
    return
  fi
  local kind rest sum path dirs=()
  while read -r kind rest; do
    case "$kind" in
      file) rm -f "$ROOT$rest" ;;
      link) [ ! -L "$ROOT$rest" ] || rm -f "$ROOT$rest" ;;
      config)
        read -r sum path <<<"$rest"
        if [ -f "$ROOT$path" ] && [ "$(sha256_of "$ROOT$path")" != "$sum" ]; then
          echo "Kept $ROOT$path: changed since it was installed"
        else
          rm -f "$ROOT$path"
        fi
        ;;
      dir) dirs+=("$rest") ;;
    esac
  done <"$ROOT$MANIFEST"
  rm -f "$ROOT$MANIFEST"
  # deepest first: a directory sorts after its parent
  printf '%s\n' "${dirs[@]}" | sort -r | while read -r path; do
    [ -z "$path" ] || rmdir "$ROOT$path" 2>/dev/null || true
  done
  echo "Uninstalled Dovetail from $ROOT$PREFIX"
}

# ---- install ----

# The "dir" and "config" lines of an earlier install: still ours.
keep_earlier_records() {
  [ -f "$ROOT$MANIFEST" ] || return 0
  local kind rest
  while read -r kind rest; do
    case "$kind" in
      dir | config) record "$kind $rest" ;;
    esac
  done <"$ROOT$MANIFEST"
}

# mkdir -p that records each directory it creates.
make_dir() {
  local path=$1
  [ -d "$ROOT$path" ] && return 0
  make_dir "$(dirname "$path")"
  mkdir -m 0755 "$ROOT$path"
  record "dir $path"
}

# Copies SOURCE_FILE to PATH with MODE, replacing any old file by rename
# (a running executable cannot be overwritten in place).
put_file() {
  local source_file=$1 path=$2 mode=$3
  install -m "$mode" "$source_file" "$ROOT$path.new"
  mv -f "$ROOT$path.new" "$ROOT$path"
  record "file $path"
}

install_executable() {
  if [ "$FORCE_BUNDLE" = no ] && [ -f "$SOURCE/dist/dovetail" ]; then
    put_file "$SOURCE/dist/dovetail" "$BINARY" 0755
    echo "Installed the single executable $ROOT$BINARY"
  else
    install_bundle
    echo "Installed the bundle with a launcher $ROOT$BINARY (node: $NODE)"
  fi
}

install_bundle() {
  put_file "$SOURCE/dist/dovetail.js" "$LIBEXEC/dovetail.js" 0644
  put_file "$SOURCE/dist/dovetail_native.node" "$LIBEXEC/dovetail_native.node" 0644
  local chunk package file
  # the chunks the bundle loads from beside itself (scripts/build.mjs: Sieve, quota and --check, SQL, LMTP)
  for chunk in "$SOURCE"/dist/dovetail-*.js; do
    put_file "$chunk" "$LIBEXEC/${chunk##*/}" 0644
  done
  # the bundle's lazily required libraries and their dependencies, not the dev tools
  while read -r package; do
    [ "$package" = "$SOURCE" ] && continue
    while read -r file; do
      make_dir "$LIBEXEC/${file%/*}"
      put_file "$SOURCE/$file" "$LIBEXEC/$file" 0644
    done < <(cd "$SOURCE" && find "node_modules/${package#"$SOURCE/node_modules/"}" -type f)
  done < <(cd "$SOURCE" && npm ls --omit=dev --all --parseable 2>/dev/null)
  write_launcher
}

# bin/dovetail with this machine's node as its interpreter and the bundle beside it.
write_launcher() {
  local launcher
  launcher=$(mktemp)
  sed -e "1s|.*|#!$NODE|" -e "s|require('../dist/dovetail.js')|require('./dovetail.js')|" "$SOURCE/bin/dovetail" >"$launcher"
  if ! grep -q "require('./dovetail.js')" "$launcher"; then
    rm -f "$launcher"
    fail "bin/dovetail no longer loads ../dist/dovetail.js; update write_launcher in $0"
  fi
  put_file "$launcher" "$BINARY" 0755
  rm -f "$launcher"
}

install_link() {
  if [ -e "$ROOT$LINK" ] && [ ! -L "$ROOT$LINK" ]; then
    fail "$ROOT$LINK exists and is not a link; move it away first"
  fi
  ln -sfn "$LINK_TARGET" "$ROOT$LINK"
  record "link $LINK"
}

install_config() {
  if [ -e "$ROOT$CONFIG" ]; then
    echo "Kept the existing $ROOT$CONFIG"
    return
  fi
  install -m 0644 "$SOURCE/examples/dovetail.conf" "$ROOT$CONFIG"
  record "config $(sha256_of "$ROOT$CONFIG") $CONFIG"
  echo "Wrote $ROOT$CONFIG from examples/dovetail.conf"
}

install_relay() {
  local build
  build=$(mktemp -d)
  "${CC:-cc}" -O2 -Wall -Wextra -Werror -DDOVETAIL_PATH="\"$BINARY\"" -o "$build/dovetail-relay" "$SOURCE/scripts/relay-wrapper.c"
  # chown first: it clears the setgid bit
  chown "root:$RELAY_GROUP" "$build/dovetail-relay"
  chmod 2755 "$build/dovetail-relay"
  mv -f "$build/dovetail-relay" "$ROOT$RELAY_PATH"
  rmdir "$build"
  record "file $RELAY_PATH"
  echo "Installed the relay $ROOT$RELAY_PATH (root:$RELAY_GROUP 2755, runs $BINARY)"
}

# Files an earlier install put there that this one did not (bundle → single executable, or back).
remove_stale_files() {
  [ -f "$ROOT$MANIFEST" ] || return 0
  local kind rest
  while read -r kind rest; do
    # not grep -q: it would stop reading at the first match, printf would die of
    # SIGPIPE once the list outgrows a pipe, and pipefail would call that "not found"
    if [ "$kind" = file ] && ! printf '%s\n' "${ENTRIES[@]}" | grep -xF "file $rest" >/dev/null; then
      rm -f "$ROOT$rest"
    fi
  done <"$ROOT$MANIFEST"
}

check_prerequisites() {
  if [ "$FORCE_BUNDLE" = yes ] || [ ! -f "$SOURCE/dist/dovetail" ]; then
    for file in dist/dovetail.js dist/dovetail-sieve.js dist/dovetail-quota.js dist/dovetail-sql.js dist/dovetail-lmtp.js dist/dovetail_native.node; do
      [ -f "$SOURCE/$file" ] || fail "$SOURCE/$file is missing: run npm run package (or npm run build) first"
    done
    NODE=$(command -v node) || fail "node is not in PATH; the bundle needs it (or build dist/dovetail with npm run package)"
  fi
  if [ "$RELAY" = yes ]; then
    [ "$(id -u)" = 0 ] || fail "--relay must run as root (the relay is owned by root:$RELAY_GROUP)"
    getent group "$RELAY_GROUP" >/dev/null || fail "group $RELAY_GROUP does not exist"
    command -v "${CC:-cc}" >/dev/null || fail "no C compiler (${CC:-cc}) for the relay: apt-get install gcc"
  fi
}

install_all() {
  check_prerequisites
  keep_earlier_records
  make_dir "$LIBEXEC"
  make_dir "$(dirname "$LINK")"
  make_dir "$CONFDIR"
  install_executable
  install_link
  install_config
  if [ "$RELAY" = yes ]; then
    install_relay
  elif [ -f "$ROOT$RELAY_PATH" ]; then
    record "file $RELAY_PATH" # kept from an earlier --relay; it runs the new executable
  fi
  remove_stale_files
  printf '%s\n' "${ENTRIES[@]}" | sort -u >"$ROOT$MANIFEST.new"
  mv -f "$ROOT$MANIFEST.new" "$ROOT$MANIFEST"
  chmod 0644 "$ROOT$MANIFEST"
}

if [ "$UNINSTALL" = yes ]; then
  uninstall
else
  install_all
fi
