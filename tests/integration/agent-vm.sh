#!/usr/bin/env bash
# The agent as PID 1 of a QEMU TCG guest (microvm): an initrd with
# hako-agent as /init and a busybox rootfs at /rootfs, the agent reached over
# the virtio-serial port agent.channel.0, driven by agent-client through the
# same lifecycle as the host-mode test (cgroup v2, initramfs root moved
# rather than pivoted), then again with the rootfs on a virtio-blk disk.
# Exits 77 without a built guest kernel, QEMU, cpio, mkfs.ext4 or
# busybox-static.
# Usage: agent-vm.sh HAKO_AGENT AGENT_CLIENT (run from the source root)
set -u
agent_bin=$1
client_bin=$2

kernel=${HAKO_GUEST_KERNEL:-}
if [ -z "$kernel" ] && [ -x guest/build-kernel.sh ]; then
	kernel=$(guest/build-kernel.sh --print-path 2>/dev/null || true)
fi
if [ -z "$kernel" ] || [ ! -f "$kernel" ]; then
	echo "skip: guest kernel not built (guest/build-kernel.sh, or set HAKO_GUEST_KERNEL)"
	exit 77
fi
for tool in qemu-system-x86_64 cpio mkfs.ext4; do
	if ! command -v "$tool" >/dev/null; then
		echo "skip: needs $tool"
		exit 77
	fi
done
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" | grep -q 'statically linked'; then
	echo "skip: needs a static busybox (apt-get install busybox-static)"
	exit 77
fi

tmp=$(mktemp -d /tmp/hako-agent-vm.XXXXXX)
qemu_pid=
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	if [ -n "$qemu_pid" ]; then
		kill "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

stage=$tmp/stage
mkdir -p "$stage"/{dev,proc,sys,run,tmp} "$stage"/rootfs/{bin,proc,dev,sys,tmp,etc,mnt}
cp "$agent_bin" "$stage/init"
cp "$busybox" "$stage/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$stage/rootfs/bin/$applet" ] || ln -s busybox "$stage/rootfs/bin/$applet"
done
mknod "$stage/dev/console" c 5 1
(cd "$stage" && find . | cpio -o -H newc 2>/dev/null) >"$tmp/initrd"
# The same rootfs as an ext4 disk for the block-storage run.
mkfs.ext4 -q -d "$stage/rootfs" "$tmp/rootfs.img" 32M || exit 1

timeout 280 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -m 512 -smp 1 -nographic \
	-no-reboot -kernel "$kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 quiet panic=-1 reboot=t" \
	-device virtio-serial-device \
	-chardev "socket,id=agent,path=$tmp/agent.sock,server=on,wait=off" \
	-device virtserialport,chardev=agent,name=agent.channel.0 \
	-drive "id=rootfs,file=$tmp/rootfs.img,format=raw,if=none" \
	-device virtio-blk-device,drive=rootfs >"$tmp/console.log" 2>&1 &
qemu_pid=$!
for _ in $(seq 120); do
	grep -q "listening on\|Kernel panic" "$tmp/console.log" && break
	sleep 0.5
done
if ! grep -q "listening on virtio-serial" "$tmp/console.log"; then
	echo "FAIL: the agent did not come up in the guest"
	cat "$tmp/console.log"
	exit 1
fi

rc=0
timeout 240 "$client_bin" --addr "unix:$tmp/agent.sock" --rootfs /rootfs || rc=1
# A second connection (the agent reopens the serial port after a hangup),
# with the first container's rootfs from the virtio-blk disk under an
# overlay.
if [ "$rc" = 0 ]; then
	timeout 240 "$client_bin" --addr "unix:$tmp/agent.sock" --rootfs /rootfs \
		--rootfs-blk /dev/vda:ext4 >"$tmp/second.log" || rc=1
	if [ "$rc" = 0 ]; then
		echo "ok - a second client is served after the first hung up (rootfs from virtio-blk)"
	else
		echo "not ok - a second client is served after the first hung up (rootfs from virtio-blk)"
		cat "$tmp/second.log"
	fi
fi
if [ "$rc" != 0 ]; then
	echo "--- guest console"
	tail -n 60 "$tmp/console.log"
fi
exit "$rc"
