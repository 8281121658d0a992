#!/usr/bin/env bash
# Boot hako's guest kernel under QEMU TCG (microvm, virtio-mmio) with a busybox
# test initrd, and check in one boot: /init runs, the filesystems hako needs
# are built in, a virtio-blk disk reads back, and the VM ends with QEMU exit 0.
# Exits 77 (skipped) when the kernel is not built or QEMU/busybox is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() {
	echo "guest-boot-tcg: SKIP: $*"
	exit 77
}
fail() {
	echo "guest-boot-tcg: FAIL: $*" >&2
	exit 1
}

vmlinux=$(guest/build-kernel.sh --print-path 2>/dev/null) || skip "guest kernel not built (run guest/build-kernel.sh)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
[ -x /bin/busybox ] || skip "busybox-static not installed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

token=HAKO-DISK-$RANDOM$RANDOM
printf '%s' "$token" >"$tmp/disk.img"
truncate -s 1M "$tmp/disk.img"

cat >"$tmp/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "MARK booted uptime=\$(cut -d' ' -f1 /proc/uptime)"
echo "MARK uname \$(uname -r)"
for fs in virtiofs overlay ext4 erofs 9p fuse tmpfs devtmpfs; do
	grep -qw "\$fs" /proc/filesystems && echo "MARK fs \$fs"
done
echo "MARK pipe \$(echo x | wc -l)"
echo "MARK disk \$(head -c ${#token} /dev/vda)"
echo "MARK done"
# No ACPI, so no power-off device: poweroff only halts the CPU. A reboot
# ends the VM (QEMU -no-reboot, hako's VMM alike).
reboot -f
INIT

guest/build-test-initrd.sh "$tmp/initrd" --init "$tmp/init" || fail "could not build the test initrd"

start=$(date +%s.%N)
set +e
timeout 100 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -m 256 -nographic -no-reboot \
	-kernel "$vmlinux" -initrd "$tmp/initrd" -append "$(cat guest/cmdline-tcg)" \
	-drive "if=none,id=d,file=$tmp/disk.img,format=raw" -device virtio-blk-device,drive=d \
	</dev/null >"$tmp/console" 2>&1
rc=$?
set -e
wall=$(echo "$(date +%s.%N) - $start" | bc)
tr -d '\r' <"$tmp/console" >"$tmp/log"
cat "$tmp/log"

[ "$rc" != 124 ] || fail "QEMU still running after 100 s (guest hung?)"
[ "$rc" = 0 ] || fail "QEMU exited $rc"
grep -q '^MARK booted' "$tmp/log" || fail "/init did not run"
grep -q '^MARK done' "$tmp/log" || fail "/init did not finish"
for fs in virtiofs overlay ext4; do
	grep -qx "MARK fs $fs" "$tmp/log" || fail "filesystem $fs missing from /proc/filesystems"
done
grep -qx 'MARK pipe 1' "$tmp/log" || fail "a shell pipeline did not work"
grep -qx "MARK disk $token" "$tmp/log" || fail "virtio-blk disk did not read back $token"

uptime=$(sed -n 's/^MARK booted uptime=//p' "$tmp/log")
echo "guest-boot-tcg: PASS: /init at ${uptime} s guest uptime, QEMU ran $(printf '%.2f' "$wall") s wall, kernel $(sed -n 's/^MARK uname //p' "$tmp/log")"
