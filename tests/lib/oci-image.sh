# shellcheck shell=bash
# tests/lib/oci-image.sh: a busybox OCI image archive built locally (no
# registry): the containerd shim test, bench/ctr-run and the podman test
# import it. Source it.

# oci_busybox_image OUT NAME SCRATCH: an OCI image layout tar at OUT (one
# uncompressed layer: static busybox and its applet links), its index naming
# it NAME (e.g. docker.io/library/hako-bb:latest) for `ctr image import` and
# `podman load`. SCRATCH is a work directory, removed afterwards.
oci_busybox_image() {
	local out=$1 name=$2 d=$3
	local layer config manifest lsize csize msize a

	rm -rf "$d"
	mkdir -p "$d/rootfs/bin" "$d/rootfs/tmp" "$d/rootfs/proc" "$d/rootfs/sys" "$d/rootfs/dev" \
		"$d/rootfs/etc" "$d/oci/blobs/sha256"
	cp "$(command -v busybox)" "$d/rootfs/bin/busybox"
	for a in sh echo cat sleep true false ls ps kill hostname id env head wc seq yes uname tty; do
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
