# shellcheck shell=bash
# tests/integration/shim-lib.sh: helpers shared by the containerd shim test
# and bench/ctr-run: a private containerd, a locally built busybox OCI image.
# Source it; callers set SHIM_DIR (a scratch directory) first.

# shellcheck source=tests/lib/oci-image.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/oci-image.sh"

# The busybox OCI image archive at $1, named $2 (tests/lib/oci-image.sh).
shim_build_image() {
	oci_busybox_image "$1" "$2" "$SHIM_DIR/image"
}

# Start containerd on $SHIM_DIR/c.sock with $1 prepended to PATH (where
# containerd-shim-hako-v2 is); sets CTRD_PID. Waits until it answers.
shim_start_containerd() {
	local bin=$1 i
	mkdir -p "$SHIM_DIR/root" "$SHIM_DIR/state"
	cat >"$SHIM_DIR/config.toml" <<EOF
version = 2
root = "$SHIM_DIR/root"
state = "$SHIM_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SHIM_DIR/c.sock"
[ttrpc]
  address = "$SHIM_DIR/c.sock.ttrpc"
EOF
	PATH="$bin:$PATH" containerd --config "$SHIM_DIR/config.toml" \
		>"$SHIM_DIR/containerd.log" 2>&1 &
	CTRD_PID=$!
	for i in $(seq 100); do
		if ctr -a "$SHIM_DIR/c.sock" version >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$CTRD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "containerd did not start (i=$i):" >&2
	tail -20 "$SHIM_DIR/containerd.log" >&2
	return 1
}

shim_stop_containerd() {
	if [ -n "${CTRD_PID:-}" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		kill "$CTRD_PID"
		wait "$CTRD_PID" 2>/dev/null || true
	fi
	CTRD_PID=
}

# Unmount whatever is left under $1 (deepest first).
shim_unmount_below() {
	local m
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# shim_delete_tasks SHIM ID...: what containerd does for a dead shim: run the
# shim's `delete` for each task id of the test's containerd.
shim_delete_tasks() {
	local shim=$1 id
	shift
	for id in "$@"; do
		"$shim" -namespace default -address "$SHIM_DIR/c.sock" -id "$id" \
			-bundle "$SHIM_DIR/state/io.containerd.runtime.v2.task/default/$id" \
			delete >/dev/null 2>&1
	done
}

# check NAME COMMAND...: run COMMAND, print ok/FAIL, count failures in $fails.
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok: $name"
	else
		echo "FAIL: $name"
		fails=$((fails + 1))
	fi
}
