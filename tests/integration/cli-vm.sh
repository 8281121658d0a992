#!/usr/bin/env bash
# The VM-backed hako commands end to end under QEMU (TCG here): `run` (the
# guest kernel answers uname, exit codes, stdout/stderr, stdin), the runc
# sequence create/start/state/kill/delete, errors for unknown ids, and
# nothing left behind (processes, mounts, state). Exits 77 when the guest
# kernel or the agent initrd is not built.
# Usage: cli-vm.sh PATH/TO/hako
set -u
hako=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/vmtest.sh
. tests/lib/vmtest.sh
[ "$(id -u)" = 0 ] || skip "needs root"
guest_paths
busybox=$(command -v busybox) || skip "needs busybox-static"

tmp=$(mktemp -d /tmp/hako-cli-vm.XXXXXX)
root=$tmp/state
failures=0
trap 'reap_dir "$tmp"' EXIT

mkdir -p "$tmp/bundle/rootfs/bin" "$tmp/bundle/rootfs/proc" "$tmp/bundle/rootfs/sys" \
	"$tmp/bundle/rootfs/dev" "$tmp/bundle/rootfs/tmp" "$tmp/bundle/rootfs/etc"
rootfs=$tmp/bundle/rootfs
cp "$busybox" "$rootfs/bin/busybox"
for app in sh cat echo uname sleep true ls nproc grep awk; do
	ln -s busybox "$rootfs/bin/$app"
done
qemu_config "$tmp/config.toml"
h() {
	"$hako" --root "$root" --config "$tmp/config.toml" "$@"
}

# run: the guest's kernel, exit code, both streams
start=$(date +%s%N)
out=$(h run --rm --rootfs "$rootfs" r1 -- sh -c 'uname -r; echo to-stderr >&2; exit 3' 2>"$tmp/err")
rc=$?
echo "run took $((($(date +%s%N) - start) / 1000000)) ms"
[ "$rc" = 3 ] || fail "run: exit code $rc, expected 3 ($(cat "$tmp/err"))"
[ -n "$out" ] || fail "run: no output"
[ "$out" != "$(uname -r)" ] || fail "run: uname -r is the host's ($out)"
echo "guest kernel: $out"
grep -q to-stderr "$tmp/err" || fail "run: stderr not relayed ($(cat "$tmp/err"))"
[ ! -e "$root/r1" ] || fail "run --rm: state left in $root/r1"

# stdin through a pipeline in the container, and the VM's size from the
# command line
out=$(echo hello-stdin | h run --rm -i --cpus 2 --mem 320 --rootfs "$rootfs" -- \
	sh -c 'cat | tr a-z A-Z; nproc; grep MemTotal /proc/meminfo')
[ "$(echo "$out" | sed -n 1p)" = HELLO-STDIN ] || fail "run -i: got '$out'"
[ "$(echo "$out" | sed -n 2p)" = 2 ] || fail "run --cpus 2: nproc says '$out'"
mem_kb=$(echo "$out" | sed -n 3p | awk '{print $2}')
if [ "${mem_kb:-0}" -le 250000 ] || [ "${mem_kb:-0}" -gt 327680 ]; then
	fail "run --mem 320: MemTotal '$mem_kb' kB"
fi

# signals sent to hako run reach the container's process
h run --rm --rootfs "$rootfs" sig -- \
	sh -c 'trap "echo got-int; exit 7" INT; echo ready; while true; do sleep 1; done' \
	>"$tmp/sig.out" 2>&1 &
runpid=$!
for _ in $(seq 600); do
	grep -q ready "$tmp/sig.out" && break
	sleep 0.1
done
# hako's own pid (as state reports it), not the background subshell's
kill -INT "$(h state sig | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')"
wait "$runpid"
rc=$?
[ "$rc" = 7 ] || fail "run: SIGINT: exit code $rc, expected 7 ($(cat "$tmp/sig.out"))"
grep -q got-int "$tmp/sig.out" || fail "run: SIGINT not passed on ($(cat "$tmp/sig.out"))"

# a monitor killed outright: its VM dies with it (PDEATHSIG), the state
# reads stopped, and delete removes what it left mounted
h run --rootfs "$rootfs" k9 -- sh -c 'echo ready; sleep 600' >"$tmp/k9.out" 2>&1 &
runpid=$!
for _ in $(seq 600); do
	grep -q ready "$tmp/k9.out" && break
	sleep 0.1
done
kill -KILL "$(h state k9 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')"
wait "$runpid"
sleep 0.5
h state k9 | grep -Eq '"status": ?"stopped"' || fail "state after SIGKILL: $(h state k9 2>&1)"
pgrep -f "$root/k9/" >/dev/null && fail "SIGKILL: VM processes left: $(pgrep -af "$root/k9/")"
h delete k9 2>/dev/null || fail "delete after SIGKILL"
grep -q "$root/k9" /proc/self/mountinfo && fail "delete after SIGKILL: mounts left"
[ ! -e "$root/k9" ] || fail "delete after SIGKILL: state left"
# Debian's virtiofsd leaves its pid file when killed; only a clean stop removes it
rm -f "/run/virtiofsd/$(echo "$root/k9/vm/virtiofsd.sock" | tr / .).pid"

# runc-style sequence
h spec --bundle "$tmp/bundle" || fail "spec"
sed -i 's/"terminal": *true/"terminal": false/; s/^\( *\)"sh"$/\1"sleep", "600"/' "$tmp/bundle/config.json"
# runc's form of run: the bundle's process, in the foreground
mkdir -p "$tmp/bundle2"
sed "s|\"path\": *\"rootfs\"|\"path\": \"$rootfs\"|; s|\"sleep\", \"600\"|\"sh\", \"-c\", \"echo from-bundle; exit 6\"|" \
	"$tmp/bundle/config.json" >"$tmp/bundle2/config.json"
out=$(h run --bundle "$tmp/bundle2" --pid-file "$tmp/pid2" b1 </dev/null)
rc=$?
[ "$rc" = 6 ] || fail "run --bundle: exit code $rc, expected 6 ($out)"
[ "$out" = from-bundle ] || fail "run --bundle: output '$out'"
[ -s "$tmp/pid2" ] || fail "run --bundle: no pid file"
h delete b1 || fail "delete after run --bundle"

h create --bundle "$tmp/bundle" --pid-file "$tmp/pid" c1 >"$tmp/c1.out" 2>&1 ||
	fail "create: $(cat "$tmp/c1.out")"
h state c1 | grep -Eq '"status": ?"created"' || fail "state after create: $(h state c1 2>&1)"
[ "$(cat "$tmp/pid" 2>/dev/null)" -gt 0 ] 2>/dev/null || fail "create: no pid file"
h start c1 || fail "start"
h state c1 | grep -Eq '"status": ?"running"' || fail "state after start: $(h state c1 2>&1)"
out=$(h exec c1 sh -c 'echo in-exec; exit 5' </dev/null)
rc=$?
[ "$rc" = 5 ] || fail "exec: exit code $rc, expected 5"
[ "$out" = in-exec ] || fail "exec: output '$out'"
h events --stats c1 | grep -q '"type":"stats"' || fail "events: $(h events --stats c1 2>&1)"
h update --memory 134217728 --pids-limit 100 c1 || fail "update"
stats=$(h events --stats c1)
echo "$stats" | grep -q '"limit":134217728' || fail "update: memory limit not in $stats"
echo "$stats" | grep -q '"limit":100[,}]' || fail "update: pids limit not in $stats"
h pause c1 || fail "pause"
h state c1 | grep -Eq '"status": ?"paused"' || fail "state after pause: $(h state c1 2>&1)"
h resume c1 || fail "resume"
h state c1 | grep -Eq '"status": ?"running"' || fail "state after resume: $(h state c1 2>&1)"
h delete c1 2>/dev/null && fail "delete of a running container succeeded"
h kill c1 KILL || fail "kill"
for _ in $(seq 100); do
	h state c1 | grep -Eq '"status": ?"stopped"' && break
	sleep 0.1
done
h state c1 | grep -Eq '"status": ?"stopped"' || fail "state after kill: $(h state c1 2>&1)"
h delete c1 || fail "delete"
h state c1 >/dev/null 2>&1 && fail "state of a deleted container succeeded"

# delete of a created (never started) container stops its VM
h create --bundle "$tmp/bundle" c2 >"$tmp/c2.out" 2>&1 || fail "create c2: $(cat "$tmp/c2.out")"
c2pid=$(h state c2 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
h delete c2 || fail "delete of a created container"
kill -0 "$c2pid" 2>/dev/null && fail "delete: the monitor of c2 still runs"
h state c2 >/dev/null 2>&1 && fail "state of a deleted created container succeeded"

# unknown ids
for cmd in start kill delete pause resume exec events update; do
	msg=$(h "$cmd" nope 2>&1) && fail "$cmd of an unknown id succeeded"
	echo "$msg" | grep -q "does not exist" || fail "$cmd nope: '$msg'"
done

# nothing left behind
no_processes_left "$tmp"
grep -q "$tmp" /proc/self/mountinfo && fail "mounts left: $(grep "$tmp" /proc/self/mountinfo)"
left=$(ls -A "$root" 2>/dev/null)
[ -z "$left" ] || fail "state left: $left"

[ "$failures" = 0 ] || exit 1
echo "cli-vm: ok"
