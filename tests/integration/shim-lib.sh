# shellcheck shell=bash
# tests/integration/shim-lib.sh: helpers shared by the containerd shim test
# and bench/ctr-run: a private containerd, a locally built busybox OCI image.
# Source it; callers set SHIM_DIR (a scratch directory) first.

# A busybox OCI image archive (one uncompressed layer: static busybox and
# its applet links) at $1, named $2 (e.g. docker.io/library/hako-bb:latest).
shim_build_image() {
	local out=$1 name=$2 d=$SHIM_DIR/image
	local layer config manifest lsize csize msize a

	rm -rf "$d"
	mkdir -p "$d/rootfs/bin" "$d/rootfs/tmp" "$d/rootfs/proc" "$d/rootfs/sys" "$d/rootfs/dev" \
		"$d/rootfs/etc" "$d/oci/blobs/sha256"
	cp "$(command -v busybox)" "$d/rootfs/bin/busybox"
	for a in sh echo cat sleep true false ls ps kill hostname id env head wc seq yes; do
		ln -sf busybox "$d/rootfs/bin/$a"
	done
	tar -C "$d/rootfs" --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 \
		-cf "$d/layer.tar" .
	layer=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
	lsize=$(stat -c %s "$d/layer.tar")
	mv "$d/layer.tar" "$d/oci/blobs/sha256/$layer"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$layer" >"$d/config.json"
	config=$(sha256sum "$d/config.json" | cut -d' ' -f1)
	csize=$(stat -c %s "$d/config.json")
	mv "$d/config.json" "$d/oci/blobs/sha256/$config"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$config" "$csize" "$layer" "$lsize" >"$d/manifest.json"
	manifest=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
	msize=$(stat -c %s "$d/manifest.json")
	mv "$d/manifest.json" "$d/oci/blobs/sha256/$manifest"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
		"$manifest" "$msize" "$name" >"$d/oci/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
	tar -C "$d/oci" -cf "$out" .
	rm -rf "$d"
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
