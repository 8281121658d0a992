#!/bin/bash
# bench/ctr-run.sh: time `ctr run --rm IMAGE id true` with hako's shim
# (io.containerd.hako.v2, one VM per container) and with runc
# (io.containerd.runc.v2) on the same locally built busybox image under one
# private containerd, and print both medians and their ratio.
# Usage: bench/ctr-run.sh [SHIM_BINARY] [ITERATIONS]. Root; needs
# containerd, ctr, runc, busybox and a built guest kernel and initrd.
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
shim=$(realpath "${1:-$here/../build/shim/containerd-shim-hako-v2}")
n=${2:-5}
IMG=docker.io/library/hako-bb:latest

[ "$(id -u)" = 0 ] || {
	echo "ctr-run: needs root" >&2
	exit 1
}
[ -x "$shim" ] || {
	echo "ctr-run: no shim binary at $shim (build first)" >&2
	exit 1
}
SHIM_DIR=$(mktemp -d /tmp/hako-ctr-bench.XXXXXX)
# shellcheck source=tests/integration/shim-lib.sh
. "$here/../tests/integration/shim-lib.sh"
trap 'shim_stop_containerd; shim_unmount_below "$SHIM_DIR"; rm -rf "$SHIM_DIR"' EXIT

mkdir -p "$SHIM_DIR/bin"
ln -s "$shim" "$SHIM_DIR/bin/containerd-shim-hako-v2"
shim_build_image "$SHIM_DIR/image.tar" "$IMG"
shim_start_containerd "$SHIM_DIR/bin"
ctr -a "$SHIM_DIR/c.sock" images import "$SHIM_DIR/image.tar" >/dev/null

# median wall time in seconds of n runs with runtime $1
measure() {
	local rt=$1 i t0 t1
	for i in $(seq "$n"); do
		t0=$(date +%s%N)
		if ! timeout 300 ctr -a "$SHIM_DIR/c.sock" run --rm --runtime "$rt" "$IMG" \
			"bench-$i" true </dev/null >/dev/null; then
			echo "ctr-run: run $i with $rt failed" >&2
			return 1
		fi
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f\n", a[int((NR + 1) / 2)] / 1e6 }'
}

runc_s=$(measure io.containerd.runc.v2)
hako_s=$(measure io.containerd.hako.v2)
echo "ctr run --rm $IMG true, median of $n:"
echo "  runc: $runc_s s"
echo "  hako: $hako_s s"
echo "  ratio hako/runc: $(echo "scale=1; $hako_s / $runc_s" | bc)"

# The guest's own boot phases, from its kernel log (dmesg timestamps, seconds
# since the guest kernel started), read by one more hako container.
if klog=$(timeout 300 ctr -a "$SHIM_DIR/c.sock" run --rm --runtime io.containerd.hako.v2 \
	"$IMG" bench-dmesg /bin/busybox dmesg </dev/null 2>"$SHIM_DIR/dmesg.err") && [ -n "$klog" ]; then
	stamp() { echo "$klog" | grep -m1 "$1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }
	echo "guest kernel phases (dmesg, s since the guest kernel started):"
	echo "  virtio-mmio devices registered: $(stamp 'Registering device virtio-mmio' || true)"
	echo "  initramfs unpacked:             $(stamp 'Freeing initrd memory' || true)"
	echo "  /init (hako-agent) started:     $(stamp 'Run /init as init process' || true)"
	echo "  last kernel message:            $(echo "$klog" | tail -n 1 |
		sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')"
else
	echo "guest kernel phases: dmesg in a hako container failed: $(head -c 300 "$SHIM_DIR/dmesg.err")"
fi

