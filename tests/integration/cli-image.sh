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

# shellcheck source=tests/lib/vmtest.sh
. tests/lib/vmtest.sh
# shellcheck source=tests/lib/oci-image.sh
. tests/lib/oci-image.sh
[ "$(id -u)" = 0 ] || skip "needs root"
guest_paths
busybox=$(command -v busybox) || skip "needs busybox-static"

tmp=$(mktemp -d /tmp/hako-cli-image.XXXXXX)
root=$tmp/state
failures=0
trap 'reap_dir "$tmp"' EXIT
qemu_config "$tmp/config.toml"
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
no_processes_left "$tmp"
! grep -q "$tmp" /proc/self/mountinfo || fail "mounts left: $(grep "$tmp" /proc/self/mountinfo)"

[ "$failures" = 0 ] || exit 1
echo "cli-image: all checks passed"
