#!/usr/bin/env bash
# tests/integration/vmm-payloads.sh: hako-vmm boots the tiny guests written
# by bench/vmm-payload (no kernel needed) and must report each way a guest
# can end as its own exit status, with the guest's serial output intact.
# Usage: vmm-payloads.sh HAKO_VMM VMM_PAYLOAD
set -u
vmm=$1
payload=$2

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "skip: no usable /dev/kvm"
	exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

# run KIND EXPECTED_STATUS [hako-vmm options...]
run() {
	local kind=$1 want=$2 rc
	shift 2
	"$payload" "$kind" "$dir/$kind.elf" || exit 1
	timeout 60 "$vmm" --kernel "$dir/$kind.elf" --serial "$dir/$kind.out" "$@" 2>"$dir/$kind.err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL: $kind $*: exit status $rc, want $want: $(cat "$dir/$kind.err")"
		fail=1
	elif ! grep -qx 'hako-payload ok' "$dir/$kind.out"; then
		echo "FAIL: $kind $*: serial output was '$(cat "$dir/$kind.out")'"
		fail=1
	else
		echo "ok: $kind $* -> $rc"
	fi
	rm -f "$dir/$kind.out"
}

run poweroff 0
run poweroff 0 --vcpus 4 --mem 4G # memory split around the 32-bit hole, APs never started
run long64 0                      # 64-bit ELF entry: VMM-built page tables and long mode
run reboot 3
# Every kind of device on the bus: created, announced, torn down cleanly.
echo disk >"$dir/disk.img"
mkdir "$dir/share"
run poweroff 0 --disk "$dir/disk.img,ro" --disk "$dir/disk.img" --vsock-uds "$dir/v.sock" \
	--share "tag=$dir/share"
run triple 4
grep -q 'triple fault' "$dir/triple.err" || { echo "FAIL: no triple fault message"; fail=1; }

# A signal stops the VM: status 5, and the idle guest printed its byte first.
"$payload" first "$dir/first.elf" || exit 1
"$vmm" --kernel "$dir/first.elf" --serial "$dir/first.out" &
pid=$!
for _ in $(seq 100); do
	[ -s "$dir/first.out" ] && break
	sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" != 5 ] || [ "$(cat "$dir/first.out")" != X ]; then
	echo "FAIL: SIGTERM: status $rc, serial '$(cat "$dir/first.out")'"
	fail=1
else
	echo "ok: SIGTERM -> 5"
fi

# Refusals: one line naming the problem, non-zero status.
out=$("$vmm" --kernel "$dir/none.elf" 2>&1)
rc=$?
if [ "$rc" = 0 ] || ! echo "$out" | grep -q "none.elf: No such file"; then
	echo "FAIL: missing kernel: $rc '$out'"
	fail=1
fi
out=$("$vmm" --kernel "$dir/first.elf" --disk "$dir/nodisk.img" 2>&1)
if [ "$(echo "$out" | wc -l)" != 1 ] || ! echo "$out" | grep -q "nodisk.img"; then
	echo "FAIL: missing disk: '$out'"
	fail=1
fi
out=$("$vmm" --kernel "$dir/first.elf" --cpuid-mask avx,nosuch 2>&1)
if ! echo "$out" | grep -q "not supported: cpuid feature 'nosuch'"; then
	echo "FAIL: cpuid mask: '$out'"
	fail=1
fi
exit "$fail"
