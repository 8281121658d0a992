#!/usr/bin/env bash
# Boot hako's guest kernel under QEMU TCG (microvm, virtio-mmio) with a busybox
# test initrd, and check in one boot with guest/cmdline-tcg: /init runs with
# no stray arguments, the filesystems hako needs are built in, a virtio-blk
# disk reads back, and the VM ends with QEMU exit 0. A second boot with
# guest/cmdline-swkvm checks that the PVM line and patches are harmless
# under TCG and that reboot=k ends the VM through an i8042.
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
echo "MARK argc \$#"
grep -q hako.swkvm /proc/cmdline && dmesg | grep -q 'hako: software-emulated KVM workarounds on' && echo "MARK swkvm on"
dmesg | grep -q 'Clearing CPUID bits:.*unknown' && echo "MARK clearcpuid has unknown features"
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

# boot NAME CMDLINE [QEMU-ARGS...]: one boot, console in $tmp/NAME.log
boot() {
	local name=$1 cmdline=$2 rc
	shift 2
	start=$(date +%s.%N)
	set +e
	timeout 100 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -m 256 -nographic -no-reboot \
		-kernel "$vmlinux" -initrd "$tmp/initrd" -append "$cmdline" \
		-drive "if=none,id=d,file=$tmp/disk.img,format=raw" -device virtio-blk-device,drive=d \
		"$@" </dev/null >"$tmp/console" 2>&1
	rc=$?
	set -e
	wall=$(echo "$(date +%s.%N) - $start" | bc)
	tr -d '\r' <"$tmp/console" >"$tmp/$name.log"
	echo "--- $name boot:"
	cat "$tmp/$name.log"
	[ "$rc" != 124 ] || fail "$name: QEMU still running after 100 s (guest hung?)"
	[ "$rc" = 0 ] || fail "$name: QEMU exited $rc"
	grep -q '^MARK booted' "$tmp/$name.log" || fail "$name: /init did not run"
	grep -q '^MARK done' "$tmp/$name.log" || fail "$name: /init did not finish"
	grep -qx 'MARK argc 0' "$tmp/$name.log" || fail "$name: the command line passed unknown words to /init as arguments"
	if grep -q '^MARK clearcpuid has unknown' "$tmp/$name.log"; then
		fail "$name: clearcpuid= names a feature the kernel does not know, or is cut at 127 characters"
	fi
}

boot tcg "$(cat guest/cmdline-tcg)"
log=$tmp/tcg.log
for fs in virtiofs overlay ext4; do
	grep -qx "MARK fs $fs" "$log" || fail "filesystem $fs missing from /proc/filesystems"
done
grep -qx 'MARK pipe 1' "$log" || fail "a shell pipeline did not work"
grep -qx "MARK disk $token" "$log" || fail "virtio-blk disk did not read back $token"
if grep -q '^MARK swkvm on' "$log"; then fail "hako.swkvm workarounds on without the switch"; fi
uptime=$(sed -n 's/^MARK booted uptime=//p' "$log")
tcg_wall=$wall

boot swkvm "$(cat guest/cmdline-swkvm)" -device i8042
grep -q '^MARK swkvm on' "$tmp/swkvm.log" || fail "cmdline-swkvm did not turn the hako.swkvm workarounds on"
grep -qx "MARK disk $token" "$tmp/swkvm.log" || fail "swkvm: virtio-blk disk did not read back $token"

echo "guest-boot-tcg: PASS: /init at ${uptime} s guest uptime, QEMU ran $(printf '%.2f' "$tcg_wall") s wall, kernel $(sed -n 's/^MARK uname //p' "$log"); cmdline-swkvm boot under TCG ran $(printf '%.2f' "$wall") s"
