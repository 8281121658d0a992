#!/usr/bin/env bash
# hako's command line against its help and against the runc options that
# containerd, conmon and podman pass: every command's --help works and
# lists options the parser accepts (each one, followed by an unknown
# option, fails on the unknown one only), option lines fit 100 columns, and
# the runc options callers use are accepted. No VM, no root.
# Usage: oci-compat-cli.sh PATH/TO/hako
set -u
# shellcheck source=tests/lib/vmtest.sh
. "$(dirname "$0")/../lib/vmtest.sh"
hako=$(realpath "$1")
tmp=$(mktemp -d /tmp/hako-oci-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
h() {
	(cd "$tmp" && "$hako" --root "$tmp/state" --config "$tmp/none.toml" "$@")
}

# accepts CMD OPT [ARG]: the parser takes OPT (and fails on what follows)
accepts() {
	local cmd=$1 out
	shift
	out=$(h "$cmd" "$@" --zz-unknown 2>&1)
	echo "$out" | grep -q -- "unknown option --zz-unknown" ||
		fail "$cmd $*: not accepted: $out"
}

h --help >"$tmp/help" || fail "hako --help: exit $?"
cmds=$(awk '/^Commands:/ { f = 1; next } /^$/ { f = 0 } f { print $1 }' "$tmp/help")
[ "$(echo "$cmds" | wc -w)" -ge 15 ] || fail "hako --help lists only: $cmds"
for c in $cmds; do
	if ! h "$c" --help >"$tmp/$c.help" 2>&1; then
		fail "$c --help: exit status $?"
		continue
	fi
	grep -q "^Usage: hako \[global options\] $c" "$tmp/$c.help" || fail "$c --help: no usage line"
	awk '!/^Usage:/ && length > 100 { print FILENAME ": " $0 }' "$tmp/$c.help" | grep . && fail "$c --help: lines over 100 columns"
	# every listed option: "  -x, --name ARG  help" or "      --name ARG  help"
	while read -r opt arg; do
		[ "$opt" = --help ] && continue
		if [ -n "$arg" ]; then
			accepts "$c" "$opt" 1
		else
			accepts "$c" "$opt"
		fi
	done < <(awk -F '  +' '$2 ~ /^-/ { sub(/^-[a-zA-Z], /, "", $2); print $2 }' "$tmp/$c.help")
done
awk 'length > 100' "$tmp/help" | grep . && fail "hako --help: lines over 100 columns"

# the runc options containerd, conmon and podman use
accepts create --bundle . --pid-file p --console-socket s --no-pivot --no-new-keyring
accepts create -b .
accepts delete --force
accepts delete -f
accepts kill --all
accepts exec --detach --pid-file p --process f --tty --env A=b --cwd / --user 0:0
accepts ps --format json
accepts list --quiet --format json
# global options
out=$("$hako" --root "$tmp/state" --log "$tmp/log" --log-format json --debug --systemd-cgroup \
	state nosuch 2>&1)
echo "$out" | grep -q "does not exist" || fail "globals: $out"
grep -q '"level":"error"' "$tmp/log" || fail "--log-format json: $(cat "$tmp/log")"
"$hako" --version | grep -Eq '^hako version [0-9]' || fail "--version: $("$hako" --version)"
"$hako" --version | grep -Eq '^spec: [0-9]' || fail "--version: no spec line"
out=$("$hako" nosuch-command 2>&1) && fail "an unknown command succeeded"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "unknown command: '$out'"

[ "$failures" = 0 ] || exit 1
echo "oci-compat-cli: ok"
