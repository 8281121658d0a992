#!/usr/bin/env bash
# The hako CLI's commands that need no VM, run as a user would: --help,
# check's report, env --json, spec, state of an unknown id, list when empty.
# Usage: cli-basic.sh PATH/TO/hako
set -u
# shellcheck source=tests/lib/vmtest.sh
. "$(dirname "$0")/../lib/vmtest.sh"
hako=$(realpath "${1:?usage: cli-basic.sh PATH/TO/hako}")
tmp=$(mktemp -d /tmp/hako-cli-basic.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

# Run hako without the host's configuration getting in the way.
h() {
	HAKO_CONFIG="$tmp/configuration.toml" "$hako" --root "$tmp/state" "$@"
}
: >"$tmp/configuration.toml"

out=$(h --help) || fail "hako --help exited $?"
for cmd in check env features list spec state; do
	grep -q "^  $cmd " <<<"$out" || fail "--help does not list $cmd"
done
grep -q -- "--hypervisor NAME" <<<"$out" || fail "--help does not list --hypervisor"
h list --help | grep -q -- "--format FORMAT" || fail "list --help does not list --format"
h --version | grep -q '^hako version ' || fail "--version"

out=$(h check)
rc=$?
echo "$out"
for what in config kvm hypervisor cgroups tun vsock; do
	grep -Eq "^(ok|warn|info|FAIL) +$what " <<<"$out" || fail "check has no '$what' line"
done
verdict=$(tail -n 1 <<<"$out")
case "$rc:$verdict" in
0:"hako can run containers here: yes"*) ;;
1:"hako can run containers here: no"*) ;;
*) fail "check exit $rc does not match its verdict '$verdict'" ;;
esac
if [ -e /sys/module/kvm_pvm ]; then
	grep -q "kvm_pvm" <<<"$out" || fail "check does not name kvm_pvm on a PVM host"
	grep -q "^ok    hypervisor     qemu accel tcg" <<<"$out" ||
		fail "check does not choose qemu with TCG on a PVM host"
fi

h env --json >"$tmp/env.json" || fail "env --json exited $?"
python3 -m json.tool "$tmp/env.json" >/dev/null || fail "env --json is not JSON"
python3 - "$tmp/env.json" <<'PY' || fail "env --json lacks keys"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hako"]["hypervisor"] in ("builtin", "qemu"), d["hako"]
assert d["hako"]["hypervisor_reason"]
assert d["runtime"]["hypervisor_name"] == "auto"
assert "default_memory" in d["hypervisor"]["qemu"]
PY
h env | grep -q '^\[hypervisor.qemu\]$' || fail "env (TOML) has no [hypervisor.qemu]"
# deploy/configuration.toml documents the defaults: loading it changes nothing.
deploy="$(dirname "$0")/../../deploy/configuration.toml"
HAKO_CONFIG="$deploy" "$hako" --root "$tmp/state" env --json >"$tmp/deploy.json" ||
	fail "env with deploy/configuration.toml exited $?"
python3 - "$tmp/env.json" "$tmp/deploy.json" <<'PY' || fail "deploy/configuration.toml differs from the defaults"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    del d["hako"]["config"]
assert a == b, (a, b)
PY
printf '[runtime]\nbogus = 1\n' >"$tmp/bad.toml"
err=$(HAKO_CONFIG="$tmp/bad.toml" "$hako" env 2>&1) && fail "env accepted an unknown key"
grep -q "bad.toml:2: unknown key 'bogus' in \[runtime\]" <<<"$err" || fail "env error: $err"

mkdir -p "$tmp/bundle"
(cd "$tmp/bundle" && h spec) || fail "spec exited $?"
python3 -m json.tool "$tmp/bundle/config.json" >/dev/null || fail "spec wrote bad JSON"
(cd "$tmp/bundle" && h spec 2>/dev/null) && fail "spec overwrote config.json"

err=$(h state nonexistent 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "state nonexistent exited $rc"
grep -q "container nonexistent does not exist" <<<"$err" || fail "state error: $err"

out=$(h list) || fail "list exited $?"
if [ "$(wc -l <<<"$out")" != 1 ] || ! grep -q '^ID ' <<<"$out"; then
	fail "list not empty: $out"
fi
[ "$(h list --format json)" = "[]" ] || fail "list --format json not []"
[ -z "$(h list -q)" ] || fail "list -q not empty"

if [ "$failures" -gt 0 ]; then
	echo "cli-basic: $failures failure(s)"
	exit 1
fi
echo "cli-basic: ok"
