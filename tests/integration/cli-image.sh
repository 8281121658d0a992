#!/usr/bin/env bash
# `hako run --image` (an OCI image archive unpacked under the state root,
# its config's Env/Cmd as defaults) and `hako run -d` (returns once the
# container runs; state/kill/delete then), and nothing left behind
# (processes, mounts, state, the unpacked rootfs). Two VM boots. Exits 77
# without root, the guest kernel, the agent initrd or busybox.
# Usage: cli-image.sh PATH/TO/hako
set -u
hako=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1

skip() {
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
kernel=$(guest/build-kernel.sh --print-path 2>/dev/null) || skip "guest kernel not built"
initrd=$(guest/build-initrd.sh --print-path 2>/dev/null) || skip "agent initrd not built"
busybox=$(command -v busybox) || skip "needs busybox-static"
# shellcheck source=tests/lib/oci-image.sh
. tests/lib/oci-image.sh

tmp=$(mktemp -d /tmp/hako-cli-image.XXXXXX)
root=$tmp/state
failures=0
cleanup() {
	local pid
	for pid in $(pgrep -f "$tmp"); do
		kill -KILL "$pid" 2>/dev/null
	done
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r mnt; do
			umount -l "$mnt"
		done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

cat >"$tmp/config.toml" <<TOML
[runtime]
hypervisor_name = "qemu"

[hypervisor.qemu]
kernel = "$kernel"
initrd = "$initrd"
default_memory = 256

[agent.hako]
dial_timeout = 60
TOML
h() {
	"$hako" --root "$root" --config "$tmp/config.toml" "$@"
}

# --image: the archive's layer is the rootfs, its Env (PATH=/bin) finds sh
oci_busybox_image "$tmp/bb.tar" hako-bb:latest "$tmp/scratch"
start=$(date +%s%N)
out=$(timeout 120 "$hako" --root "$root" --config "$tmp/config.toml" run --rm \
	--image "$tmp/bb.tar" -- sh -c "echo from-image; echo PATH=\$PATH; exit 5" 2>"$tmp/err")
rc=$?
echo "run --image took $((($(date +%s%N) - start) / 1000000)) ms"
[ "$rc" = 5 ] || fail "run --image: exit code $rc, expected 5 ($(cat "$tmp/err"))"
echo "$out" | grep -qx from-image || fail "run --image: output '$out'"
echo "$out" | grep -qx "PATH=/bin" || fail "run --image: the image's Env not used ('$out')"
[ -z "$(ls -A "$root" 2>/dev/null)" ] || fail "run --image --rm: left in $root: $(ls -A "$root")"

# a broken archive: a clear error, nothing left
echo junk >"$tmp/junk.tar"
if h run --rm --image "$tmp/junk.tar" -- true 2>"$tmp/err"; then
	fail "run --image junk succeeded"
fi
[ -s "$tmp/err" ] || fail "run --image junk: no error message"
[ -z "$(ls -A "$root" 2>/dev/null)" ] || fail "run --image junk: left in $root: $(ls -A "$root")"

# -d: returns once the container runs; the monitor is the pid in --pid-file
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/proc" "$tmp/rootfs/sys" "$tmp/rootfs/dev" \
	"$tmp/rootfs/tmp" "$tmp/rootfs/etc"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for app in sh sleep; do
	ln -s busybox "$tmp/rootfs/bin/$app"
done
if ! timeout 120 "$hako" --root "$root" --config "$tmp/config.toml" run -d \
	--pid-file "$tmp/pid" --rootfs "$tmp/rootfs" d1 -- sleep 1000 >"$tmp/d1.out" 2>&1; then
	fail "run -d: $(cat "$tmp/d1.out")"
fi
status=$(h state d1 | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')
[ "$status" = running ] || fail "run -d: state says '$status', expected running"
pid=$(cat "$tmp/pid" 2>/dev/null)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
	fail "run -d: pid file '$pid' names no process"
fi
h kill d1 KILL || fail "kill d1"
for _ in $(seq 100); do
	[ "$(h state d1 | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')" = stopped ] && break
	sleep 0.2
done
h delete d1 || fail "delete d1"
for _ in $(seq 50); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
! kill -0 "$pid" 2>/dev/null || fail "run -d: monitor $pid still there after delete"

# nothing left behind
[ -z "$(ls -A "$root" 2>/dev/null)" ] || fail "left in $root: $(ls -A "$root")"
[ -z "$(pgrep -f "$tmp")" ] || fail "processes left: $(pgrep -af "$tmp")"
! grep -q "$tmp" /proc/self/mountinfo || fail "mounts left: $(grep "$tmp" /proc/self/mountinfo)"

[ "$failures" = 0 ] || exit 1
echo "cli-image: all checks passed"
