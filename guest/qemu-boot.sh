#!/usr/bin/env bash
# Boot hako's guest kernel by hand under QEMU microvm, with a busybox test
# initrd, for debugging and measurements (TCG, or KVM with the software-KVM
# command line). The console goes to stdout.
#
# Usage: guest/qemu-boot.sh [--accel tcg|kvm] [--init FILE] [--smp N]
#                           [--timeout S] [-- EXTRA-KERNEL-ARGS...]
#   --accel tcg   QEMU's emulator, guest/cmdline-tcg (default)
#   --accel kvm   /dev/kvm with -cpu host; guest/cmdline-swkvm when the host
#                 KVM is software-emulated (kvm_pvm loaded), else cmdline-tcg
#   --init FILE   the initrd's /init (default: mount, run sh, reboot)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "qemu-boot: $*" >&2
	exit 1
}

accel=tcg
init=
smp=1
limit=300
while [ $# -gt 0 ]; do
	case $1 in
	--accel)
		accel=${2:?--accel needs tcg or kvm}
		shift 2
		;;
	--init)
		init=${2:?--init needs a file}
		shift 2
		;;
	--smp)
		smp=${2:?--smp needs a number}
		shift 2
		;;
	--timeout)
		limit=${2:?--timeout needs seconds}
		shift 2
		;;
	--)
		shift
		break
		;;
	*) die "unknown argument: $1" ;;
	esac
done

vmlinux=$("$here/build-kernel.sh" --print-path) || exit 1
cmdline=$(cat "$here/cmdline-tcg")
cpu=()
case $accel in
tcg) ;;
kvm)
	cpu=(-cpu host)
	if [ -d /sys/module/kvm_pvm ]; then
		cmdline=$(cat "$here/cmdline-swkvm")
	fi
	;;
*) die "--accel must be tcg or kvm" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
initargs=()
if [ -n "$init" ]; then initargs=(--init "$init"); fi
"$here/build-test-initrd.sh" "$tmp/initrd" "${initargs[@]}"

# i8042: the reboot=k of cmdline-swkvm resets through the keyboard
# controller (reboot=t's int3 is fatal under PVM, and microvm has no i8042
# unless asked); with -no-reboot the reset ends QEMU.
echo "qemu-boot: accel=$accel smp=$smp cmdline: $cmdline $*" >&2
start=$(date +%s.%N)
set +e
timeout "$limit" qemu-system-x86_64 -M microvm,acpi=off -accel "$accel" "${cpu[@]}" \
	-smp "$smp" -m 256 -nographic -no-reboot -device i8042 \
	-kernel "$vmlinux" -initrd "$tmp/initrd" -append "$cmdline $*"
rc=$?
set -e
echo "qemu-boot: QEMU exit $rc after $(echo "$(date +%s.%N) - $start" | bc) s" >&2
exit "$rc"
