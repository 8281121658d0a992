#!/usr/bin/env bash
# Boot hako's guest kernel under the qemu driver with a busybox initrd whose
# /init answers lines on the agent port (and reads the virtio-fs share), via
# the qemu-hv test program. Exits 77 when the kernel is not built.
# Usage: qemu-boot.sh PATH/TO/qemu-hv
set -eu
hv=$1
kernel=""
if [ -x guest/build-kernel.sh ]; then
	kernel=$(guest/build-kernel.sh --print-path 2>/dev/null || true)
fi
if [ -z "$kernel" ] || [ ! -f "$kernel" ]; then
	echo "SKIP: guest kernel not built (guest/build-kernel.sh)"
	exit 77
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" | grep -q static; then
	echo "SKIP: needs busybox-static"
	exit 77
fi

tmp=$(mktemp -d /tmp/hako-qemu-boot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/bin" "$tmp/root/proc" "$tmp/root/sys" "$tmp/root/dev" "$tmp/root/mnt"
cp "$busybox" "$tmp/root/bin/busybox"
cat >"$tmp/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t virtiofs hako /mnt
port=""
for p in /sys/class/virtio-ports/*; do
	if [ "$(cat "$p/name")" = agent.channel.0 ]; then
		port=/dev/${p##*/}
		mknod "$port" c "$(cut -d: -f1 "$p/dev")" "$(cut -d: -f2 "$p/dev")"
	fi
done
echo "init: agent port $port"
exec 3<>"$port"
while read -r line <&3; do
	if [ "$line" = cat ]; then
		cat /mnt/hello >&3
	else
		echo "echo: $line" >&3
	fi
done
poweroff -f
INIT
chmod 755 "$tmp/root/init"
(cd "$tmp/root" && find . | cpio -o -H newc --quiet) >"$tmp/initrd"
"$hv" "$kernel" "$tmp/initrd"
