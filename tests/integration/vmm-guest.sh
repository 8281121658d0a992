#!/usr/bin/env bash
# tests/integration/vmm-guest.sh: boot hako's guest kernel under hako-vmm
# once, with tests/guest/hako-guest-test as /init, and check from both sides
# what the build supports: SMP, virtio-blk, hybrid vsock both ways,
# virtio-fs, and that the guest's poweroff ends hako-vmm with status 0.
# Usage: vmm-guest.sh HAKO_VMM VMM_PAYLOAD HAKO_GUEST_TEST SOURCE_ROOT
# Skips (77) without /dev/kvm, a built guest kernel or the initrd builder.
set -u
vmm=$1
payload=$2
guest_test=$3
src=$4

skip() {
	echo "skip: $*"
	exit 77
}
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "no usable /dev/kvm"
fi
[ -x "$src/guest/build-kernel.sh" ] || skip "no guest/build-kernel.sh"
kernel=$("$src/guest/build-kernel.sh" --print-path 2>/dev/null) || skip "guest kernel not built (guest/build-kernel.sh)"
[ -x "$src/guest/build-test-initrd.sh" ] || skip "no guest/build-test-initrd.sh"

dir=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
fail=0

"$src/guest/build-test-initrd.sh" "$dir/initrd" --init "$guest_test" >/dev/null || exit 1
"$payload" poweroff "$dir/probe.elf" || exit 1

# Which devices does this hako-vmm have? Ask it with the payload guest.
supports() {
	! "$vmm" --kernel "$dir/probe.elf" "$@" 2>&1 | grep -q "not supported"
}

checks=cpus:2
args=(--vcpus 2 --mem 256)
echo "hako-vmm test disk line" >"$dir/disk.img"
truncate -s 1M "$dir/disk.img"
if supports --disk "$dir/disk.img,ro"; then
	checks+=,blk
	args+=(--disk "$dir/disk.img,ro")
else
	echo "note: no virtio-blk in this build"
fi
if supports --vsock-uds "$dir/probe.sock"; then
	checks+=,vsock:5000
	args+=(--vsock-uds "$dir/v.sock")
else
	echo "note: no virtio-vsock in this build"
fi
mkdir "$dir/share"
echo "hello from the host" >"$dir/share/hello.txt"
if supports --share "hakotest=$dir/share"; then
	checks+=,fs:hakotest
	args+=(--share "hakotest=$dir/share")
else
	echo "note: no virtio-fs in this build"
fi

# The built-in line for this host, with SMP allowed so that 2 vCPUs show.
if [ -d /sys/module/kvm_pvm ]; then
	base=$(cat "$src/guest/cmdline-swkvm")
else
	base=$(cat "$src/guest/cmdline-tcg")
fi
base=${base//nosmp/}
base=${base//reboot=t/reboot=k}

start=$(date +%s.%N)
"$vmm" --kernel "$kernel" --initrd "$dir/initrd" --serial "$dir/serial" \
	--cmdline "$base hako_test=$checks" "${args[@]}" 2>"$dir/stderr" &
pid=$!

# Host side of vsock: answer the guest's connection to port 5001, then
# connect to its port 5000 through the hybrid vsock socket.
if [[ $checks == *vsock* ]]; then
	python3 - "$dir" <<'PY' &
import os, socket, sys, time
d = sys.argv[1]
srv = socket.socket(socket.AF_UNIX)
srv.bind(d + "/v.sock_5001")
srv.listen(1)
deadline = time.time() + 600
while time.time() < deadline:
    try:
        if "vsock listening 5000" in open(d + "/serial", errors="replace").read():
            break
    except OSError:
        pass
    time.sleep(0.5)
c = socket.socket(socket.AF_UNIX)
c.settimeout(120)
c.connect(d + "/v.sock")
c.sendall(b"CONNECT 5000\n")
ok = c.recv(64)
c.sendall(b"ping\n")
reply = c.recv(64)
open(d + "/host-side", "w").write("%r %r\n" % (ok, reply))
srv.settimeout(120)
g, _ = srv.accept()
line = g.recv(64)
g.sendall(b"hello from host\n")
open(d + "/host-side", "a").write("%r\n" % line)
PY
fi

wait "$pid"
rc=$?
pid=
end=$(date +%s.%N)
echo "--- serial console"
cat "$dir/serial"
echo "--- hako-vmm stderr"
cat "$dir/stderr"
echo "---"
echo "boot to poweroff: $(echo "$end - $start" | bc) s (status $rc)"

[ "$rc" = 0 ] || { echo "FAIL: hako-vmm exit status $rc, want 0 (poweroff)"; fail=1; }
grep -q "HAKO-GUEST-TEST start" "$dir/serial" || { echo "FAIL: /init never ran"; fail=1; }
grep -q "HAKO-GUEST-TEST done ok" "$dir/serial" || { echo "FAIL: a guest check failed"; fail=1; }
grep -q "HAKO-GUEST-TEST cpus ok" "$dir/serial" || { echo "FAIL: guest did not see 2 CPUs"; fail=1; }
if [[ $checks == *blk* ]]; then
	grep -q "blk ok read: hako-vmm test disk line" "$dir/serial" || { echo "FAIL: blk"; fail=1; }
fi
if [[ $checks == *vsock* ]]; then
	wait
	cat "$dir/host-side" 2>/dev/null
	grep -q "pong ping" "$dir/host-side" 2>/dev/null || { echo "FAIL: vsock host->guest"; fail=1; }
	grep -q "guest->host ok: hello from host" "$dir/serial" || { echo "FAIL: vsock guest->host"; fail=1; }
fi
if [[ $checks == *fs* ]]; then
	grep -q "fs ok hello.txt: hello from the host" "$dir/serial" || { echo "FAIL: fs read"; fail=1; }
	[ "$(cat "$dir/share/renamed.txt" 2>/dev/null)" = "written by the guest" ] ||
		{ echo "FAIL: fs write/rename not seen on the host"; fail=1; }
	[ ! -e "$dir/share/from-guest.txt" ] || { echo "FAIL: fs rename left the old name"; fail=1; }
fi
exit "$fail"
