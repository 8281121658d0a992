#!/usr/bin/env bash
# podman 4.3 with hako as its OCI runtime (conmon drives hako create/start/
# exec/kill/delete): a busybox image loaded from a locally built OCI
# archive (`podman load -i`), `podman run --rm IMAGE echo hi`, then one
# detached container for exec (output, stdin, exit code, /dev/null and
# /dev/urandom: runc's default devices under podman's deny-all rule), ps, kill, wait
# (137) and rm; nothing is left (processes, hako state, podman storage).
# Two VM boots. With runc installed the same `run --rm` runs with runc too
# and both times are printed. Private podman storage, run and tmp dirs;
# root; exits 77 without podman, busybox, the guest kernel or the initrd.
# Usage: podman.sh PATH/TO/hako
set -u
hako=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/vmtest.sh
. tests/lib/vmtest.sh
[ "$(id -u)" = 0 ] || skip "needs root"
command -v podman >/dev/null || skip "needs podman"
command -v conmon >/dev/null || skip "needs conmon"
command -v busybox >/dev/null || skip "needs busybox-static"
guest_paths
# shellcheck source=tests/lib/oci-image.sh
. tests/lib/oci-image.sh

tmp=$(mktemp -d /tmp/hako-podman.XXXXXX)
IMG=localhost/hako-podman-bb:latest
P=(podman --root "$tmp/root" --runroot "$tmp/runroot" --tmpdir "$tmp/tmp" --storage-driver vfs)
H=(--runtime "$hako")
# this sandbox's hard rlimits are below podman's defaults (ENVIRONMENT.md)
F=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
ids=()
failures=0
cleanup() {
	local id pid
	"${P[@]}" "${H[@]}" rm -af -t 0 >/dev/null 2>&1
	for id in "${ids[@]}"; do
		for pid in $(pgrep -f "$id"); do
			kill -KILL "$pid" 2>/dev/null
		done
		"$hako" delete --force "$id" >/dev/null 2>&1
	done
	reap_dir "$tmp"
}
trap cleanup EXIT
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

qemu_config "$tmp/hako.toml"
# conmon and podman's cleanup process inherit the environment
export HAKO_CONFIG=$tmp/hako.toml CONTAINERS_CONF=$tmp/containers.conf
printf '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n' >"$tmp/containers.conf"

oci_busybox_image "$tmp/image.tar" "$IMG" "$tmp/image" || skip "cannot build the image"
out=$("${P[@]}" load -i "$tmp/image.tar" 2>&1)
echo "$out" | grep -q "Loaded image.*$IMG" || fail "podman load: $out"

if command -v runc >/dev/null; then
	start=$(date +%s%N)
	out=$("${P[@]}" --runtime "$(command -v runc)" run --rm "${F[@]}" "$IMG" echo hi 2>&1)
	runc_ms=$(ms_since "$start")
	[ "$out" = hi ] && echo "podman run --rm (runc): $runc_ms ms" || echo "runc: $out"
fi

# 1. podman run --rm IMAGE echo hi
start=$(date +%s%N)
out=$("${P[@]}" "${H[@]}" run --rm "${F[@]}" "$IMG" echo hi 2>"$tmp/err")
rc=$?
echo "podman run --rm (hako): $(ms_since "$start") ms"
[ "$rc" = 0 ] || fail "run --rm: exit code $rc ($(cat "$tmp/err"))"
[ "$out" = hi ] || fail "run --rm: output '$out' ($(cat "$tmp/err"))"
[ -z "$("${P[@]}" ps -aq)" ] || fail "run --rm left a container: $("${P[@]}" ps -a)"

# 2. a detached container: exec, ps, kill, wait, rm
id=$("${P[@]}" "${H[@]}" run -d --name hako-d1 "${F[@]}" "$IMG" sleep 600 2>"$tmp/err")
[ -n "$id" ] && ids+=("$id")
if [ -z "$id" ]; then
	fail "run -d: $(cat "$tmp/err")"
else
	"${P[@]}" ps --format '{{.Names}} {{.Status}}' | grep -q '^hako-d1 Up' ||
		fail "ps: hako-d1 not up: $("${P[@]}" ps -a)"
	out=$("${P[@]}" "${H[@]}" exec hako-d1 sh -c \
		'echo x >/dev/null && head -c 1 /dev/urandom >/dev/null && echo in-exec; exit 4' \
		2>"$tmp/err")
	rc=$?
	[ "$out" = in-exec ] || fail "exec: output '$out' ($(cat "$tmp/err"))"
	[ "$rc" = 4 ] || fail "exec: exit code $rc, expected 4"
	out=$(echo from-stdin | "${P[@]}" "${H[@]}" exec -i hako-d1 cat 2>&1)
	[ "$out" = from-stdin ] || fail "exec -i: '$out'"
	out=$("${P[@]}" "${H[@]}" exec hako-d1 cat /proc/1/cmdline 2>&1 | tr '\0' ' ')
	[ "$out" = "sleep 600 " ] || fail "exec: pid 1 is '$out', not the container's sleep"
	"${P[@]}" "${H[@]}" kill hako-d1 >/dev/null 2>"$tmp/err" || fail "kill: $(cat "$tmp/err")"
	rc=$(timeout 60 "${P[@]}" "${H[@]}" wait hako-d1 2>&1)
	[ "$rc" = 137 ] || fail "wait after kill: '$rc', expected 137"
	"${P[@]}" "${H[@]}" rm hako-d1 >/dev/null 2>"$tmp/err" || fail "rm: $(cat "$tmp/err")"
	[ ! -e "/run/hako/$id" ] || fail "hako state left in /run/hako/$id"
	no_processes_left "$id"
fi

[ -z "$("${P[@]}" ps -aq)" ] || fail "containers left: $("${P[@]}" ps -a)"
no_processes_left "$tmp"
"${P[@]}" rmi -af >/dev/null 2>&1 || fail "rmi failed"
[ "$failures" = 0 ] || exit 1
echo "podman: ok"
