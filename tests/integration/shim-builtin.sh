#!/bin/bash
# tests/integration/shim-builtin.sh: containerd-shim-hako-v2 with the builtin
# hypervisor driver (libhako-vmm in the shim's own process, as Kata's
# Dragonball): `ctr run --rm ... echo hi` through a runtime config with
# [runtime] hypervisor_name = "builtin" prints hi, exits 0, starts no QEMU,
# and leaves no process, mount or state behind.
# Usage: shim-builtin.sh SHIM_BINARY AGENT_BINARY (run from the source root).
# Root; exits 77 without /dev/kvm, containerd/ctr/busybox, or a guest kernel.
set -u

shim=$(realpath "$1")
agent=$(realpath "$2")
IMG=docker.io/library/hako-bb:latest
RT=io.containerd.hako.v2
fails=0

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "no usable /dev/kvm"
fi
for c in containerd ctr busybox sha256sum; do
	command -v "$c" >/dev/null || skip "$c not installed"
done
[ -x guest/build-kernel.sh ] || skip "run from the source root"
kernel=$(guest/build-kernel.sh --print-path 2>/dev/null) ||
	skip "guest kernel not built (guest/build-kernel.sh)"

SHIM_DIR=$(mktemp -d /tmp/hako-shim-builtin.XXXXXX)
# shellcheck source=tests/integration/shim-lib.sh
. "$(dirname "$0")/shim-lib.sh"

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	ctr -a "$SHIM_DIR/c.sock" tasks kill -s KILL b1 >/dev/null 2>&1
	shim_stop_containerd
	pkill -KILL -f -- "-address $SHIM_DIR/c.sock" 2>/dev/null
	shim_delete_tasks "$shim" b1
	shim_unmount_below "$SHIM_DIR"
	rm -rf "$SHIM_DIR"
}
trap cleanup EXIT

# the initrd of this build's agent, whatever the cache holds
guest/build-initrd.sh --agent "$agent" --out "$SHIM_DIR/initrd" >/dev/null ||
	skip "guest initrd could not be built (guest/build-initrd.sh)"
# a guest boot on software KVM takes minutes: dial (and ctr) wait long
cat >"$SHIM_DIR/hako.toml" <<TOML
[runtime]
hypervisor_name = "builtin"

[hypervisor.builtin]
kernel = "$kernel"
initrd = "$SHIM_DIR/initrd"
default_memory = 256

[agent.hako]
dial_timeout = 600
TOML

mkdir -p "$SHIM_DIR/bin"
ln -s "$shim" "$SHIM_DIR/bin/containerd-shim-hako-v2"
shim_build_image "$SHIM_DIR/image.tar" "$IMG"
shim_start_containerd "$SHIM_DIR/bin" || exit 1
timeout 120 ctr -a "$SHIM_DIR/c.sock" images import "$SHIM_DIR/image.tar" >/dev/null || {
	echo "FAIL: image import"
	exit 1
}

# QEMU processes before the run: any new one would be ours
qemu_before=$(pgrep -f qemu-system | sort | tr '\n' ' ')
qemu_seen=
kvm_shim=
t0=$(date +%s%N)
timeout 780 ctr -a "$SHIM_DIR/c.sock" run --rm --runtime "$RT" \
	--runtime-config-path "$SHIM_DIR/hako.toml" "$IMG" b1 /bin/busybox echo hi \
	</dev/null >"$SHIM_DIR/b1.out" 2>"$SHIM_DIR/b1.err" &
ctr_pid=$!
# watch for a QEMU started meanwhile (the builtin driver must start none)
while kill -0 "$ctr_pid" 2>/dev/null; do
	for p in $(pgrep -f qemu-system); do
		case " $qemu_before " in
		*" $p "*) ;;
		*) pgrep -f -- "$SHIM_DIR" | grep -qx "$p" && qemu_seen="$qemu_seen $p" ;;
		esac
	done
	# the VM lives in the shim: the shim itself holds /dev/kvm open
	for p in $(pgrep -f -- "-address $SHIM_DIR/c.sock"); do
		for f in /proc/"$p"/fd/*; do
			[ "$(readlink "$f" 2>/dev/null)" = /dev/kvm ] && kvm_shim=$p
		done
	done
	sleep 1
done
wait "$ctr_pid"
rc=$?
echo "ctr run --rm (builtin) echo hi: $((($(date +%s%N) - t0) / 1000000)) ms"
out=$(cat "$SHIM_DIR/b1.out")
check "run --rm echo hi prints hi (rc=$rc, out='$out')" test "$rc" = 0 -a "$out" = hi
[ "$rc" = 0 ] || tail -5 "$SHIM_DIR/b1.err"
check "no QEMU process was started for this test (${qemu_seen:-none})" test -z "$qemu_seen"
check "the shim process hosted the VM (it held /dev/kvm: pid ${kvm_shim:-none})" \
	test -n "$kvm_shim"

# nothing left: no shim, no mount, no task directory
for _ in $(seq 50); do
	pgrep -f -- "-address $SHIM_DIR/c.sock" >/dev/null || break
	sleep 0.2
done
# (pgrep here, not in `sh -c`, whose own command line would match)
no_shim() {
	! pgrep -f -- "-address $SHIM_DIR/c.sock" >/dev/null
}
check "no shim process left" no_shim
check "no mount left" sh -c "! grep -q -- '$SHIM_DIR/state' /proc/self/mountinfo"
check "no task directory left" \
	sh -c "[ -z \"\$(ls -A '$SHIM_DIR/state/io.containerd.runtime.v2.task/default' 2>/dev/null)\" ]"
check "containerd knows no container b1" \
	sh -c "! ctr -a '$SHIM_DIR/c.sock' containers ls -q | grep -qx b1"

if [ "$fails" != 0 ]; then
	echo "shim-builtin.sh: $fails failed"
	tail -20 "$SHIM_DIR/containerd.log"
	exit 1
fi
echo "shim-builtin.sh: ok"
