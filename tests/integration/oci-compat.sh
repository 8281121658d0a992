#!/usr/bin/env bash
# runc and hako side by side on the same OCI bundle: create/start/state/
# exec/ps/list/kill/delete give the same exit codes step by step, the same
# status transitions (created -> running -> stopped) and state JSON fields;
# kill by signal name and number reaches the process; delete of a running
# container is refused, delete --force works. Bad input (no config.json,
# invalid JSON, a missing guest kernel, an unknown id, an id in use, a
# --root too long for the VM's sockets) gives one error line and leaves
# nothing behind (process, mount, state). Two VM boots for hako. Root; exits 77 without runc, busybox, python3, the guest
# kernel or the initrd.
# Usage: oci-compat.sh PATH/TO/hako
set -u
hako=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/vmtest.sh
. tests/lib/vmtest.sh
[ "$(id -u)" = 0 ] || skip "needs root"
for c in runc busybox python3; do
	command -v "$c" >/dev/null || skip "needs $c"
done
guest_paths

tmp=$(mktemp -d /tmp/hako-oci.XXXXXX)
failures=0
cleanup() {
	local id
	for id in c1 c2; do
		runc --root "$tmp/runc" delete --force "$id" >/dev/null 2>&1
		"$hako" --root "$tmp/hako" delete --force "$id" >/dev/null 2>&1
	done
	reap_dir "$tmp"
}
trap cleanup EXIT

# the bundle: busybox; pid 1 notes SIGUSR1 in /tmp/usr1 and exits 7 on SIGUSR2
B=$tmp/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp" \
	"$B/rootfs/etc"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
for a in sh sleep echo cat true wc; do
	ln -s busybox "$B/rootfs/bin/$a"
done
(cd "$B" && runc spec) || skip "runc spec failed"
python3 - "$B/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["root"]["readonly"] = False
c["process"]["args"] = ["sh", "-c", 'trap "echo usr1 >>/tmp/usr1" USR1; trap "exit 7" USR2; '
                        'while :; do sleep 1; done']
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
mkdir -p "$tmp/empty" "$tmp/invalid"
echo '{"ociVersion": ' >"$tmp/invalid/config.json"
qemu_config "$tmp/hako.toml"
sed "s|^kernel = .*|kernel = \"$tmp/no-such-vmlinux\"|" "$tmp/hako.toml" >"$tmp/nokernel.toml"

rt_runc() { runc --root "$tmp/runc" "$@"; }
rt_hako() { timeout 120 "$hako" --root "$tmp/hako" --config "$tmp/hako.toml" "$@"; }

# step RT NAME CMD...: run `rt_RT CMD...` (stdin /dev/null); "NAME rc" goes
# to $tmp/RT.rc, stdout to $tmp/out, stderr to $tmp/err
step() {
	local rt=$1 name=$2 rc
	shift 2
	"rt_$rt" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 0 ] || rc=nonzero
	echo "$name $rc" >>"$tmp/$rt.rc"
}
status_of() {
	"rt_$1" state "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null
}
# wait_status RT ID STATUS: up to 30 s
wait_status() {
	for _ in $(seq 60); do
		[ "$(status_of "$1" "$2")" = "$3" ] && return 0
		sleep 0.5
	done
	return 1
}
# an error: non-zero (checked by the rc comparison), one line on stderr
one_line_error() {
	local n
	n=$(wc -l <"$tmp/err")
	[ "$n" = 1 ] || fail "$1 $2: $n lines on stderr, expected one: $(cat "$tmp/err")"
}
leftovers() { # leftovers RT ID: no state dir, no process, no mount
	local dir=$tmp/$1/$2
	[ ! -e "$dir" ] || fail "$1: $2: state left in $dir: $(ls "$dir")"
	if awk -v d="$dir" 'index($5, d) == 1' /proc/self/mountinfo | grep -q .; then
		fail "$1: $2: mounts left"
	fi
	if [ "$1" = hako ] && pgrep -f "$tmp/hako/$2" >/dev/null; then
		fail "$1: $2: processes left: $(pgrep -af "$tmp/hako/$2")"
	fi
}

# usr1_count RT N: how often c1's trap ran, once it is N or after 15 s
usr1_count() {
	local n
	for _ in $(seq 30); do
		n=$("rt_$1" exec c1 wc -l /tmp/usr1 2>/dev/null </dev/null)
		[ "${n%% *}" = "$2" ] && break
		sleep 0.5
	done
	echo "${n%% *}"
}
# gone PID: the process is gone or a zombie (its parent is init) within 10 s
gone() {
	for _ in $(seq 20); do
		[ -e "/proc/$1" ] || return 0
		[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.5
	done
	return 1
}
lifecycle() {
	local rt=$1 pid n
	: >"$tmp/$rt.rc"
	: >"$tmp/$rt.status"
	start=$(date +%s%N)
	step "$rt" create create --bundle "$B" c1
	echo "$rt: create took $((($(date +%s%N) - start) / 1000000)) ms"
	[ -s "$tmp/err" ] && echo "$rt create: $(cat "$tmp/err")"
	status_of "$rt" c1 >>"$tmp/$rt.status"
	rt_"$rt" state c1 >"$tmp/$rt.state.json" 2>&1
	python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' \
		"$tmp/$rt.state.json" >"$tmp/$rt.fields" 2>&1
	pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
		"$tmp/$rt.state.json" 2>/dev/null)
	if [ -z "$pid" ] || [ "$pid" = 0 ] || ! kill -0 "$pid" 2>/dev/null; then
		fail "$rt: state pid '$pid' is not a live host process"
	fi
	step "$rt" create-same-id create --bundle "$B" c1
	one_line_error "$rt" "create (id in use)"
	step "$rt" start start c1
	status_of "$rt" c1 >>"$tmp/$rt.status"
	step "$rt" exec exec c1 echo hi
	[ "$(cat "$tmp/out")" = hi ] || fail "$rt exec: '$(cat "$tmp/out" "$tmp/err")'"
	step "$rt" ps-json ps --format json c1
	grep -Eq "^\[([0-9]+,)*$pid(,[0-9]+)*\]$" "$tmp/out" ||
		fail "$rt ps --format json: '$(cat "$tmp/out" "$tmp/err")' (pid $pid)"
	step "$rt" list-q list -q
	[ "$(cat "$tmp/out")" = c1 ] || fail "$rt list -q: '$(cat "$tmp/out")'"
	step "$rt" delete-running delete c1
	one_line_error "$rt" "delete (running)"
	status_of "$rt" c1 >>"$tmp/$rt.status"
	step "$rt" kill-by-name kill c1 USR1
	n=$(usr1_count "$rt" 1)
	[ "$n" = 1 ] || fail "$rt: kill c1 USR1: the trap ran '$n' times"
	step "$rt" kill-by-number kill c1 10
	n=$(usr1_count "$rt" 2)
	[ "$n" = 2 ] || fail "$rt: kill c1 10: the trap ran '$n' times in all"
	rm -f "$B/rootfs/tmp/usr1"
	step "$rt" kill-exit kill c1 SIGUSR2
	wait_status "$rt" c1 stopped || fail "$rt: not stopped after SIGUSR2"
	status_of "$rt" c1 >>"$tmp/$rt.status"
	step "$rt" kill-stopped kill c1 KILL
	step "$rt" delete-stopped delete c1
	step "$rt" state-deleted state c1
	one_line_error "$rt" "state (deleted)"
	gone "$pid" || fail "$rt: pid $pid still alive after delete"
	leftovers "$rt" c1

	step "$rt" create-2 create --bundle "$B" c2
	step "$rt" start-2 start c2
	step "$rt" delete-force delete --force c2
	step "$rt" state-force-deleted state c2
	step "$rt" list-empty list -q
	[ -s "$tmp/out" ] && fail "$rt list -q after deletes: '$(cat "$tmp/out")'"
	leftovers "$rt" c2

	# bad input
	for c in state start delete ps exec kill; do
		if [ "$c" = exec ]; then
			step "$rt" "$c-unknown" exec nosuch true
		else
			step "$rt" "$c-unknown" "$c" nosuch
		fi
		one_line_error "$rt" "$c (unknown id)"
	done
	step "$rt" no-config create --bundle "$tmp/empty" x1
	one_line_error "$rt" "create (no config.json)"
	leftovers "$rt" x1
	step "$rt" invalid-config create --bundle "$tmp/invalid" x2
	one_line_error "$rt" "create (invalid config.json)"
	leftovers "$rt" x2
}

lifecycle runc
lifecycle hako

# a missing guest kernel (hako only)
"$hako" --root "$tmp/hako" --config "$tmp/nokernel.toml" create --bundle "$B" x3 \
	</dev/null >/dev/null 2>"$tmp/err" && fail "hako create without a kernel succeeded"
one_line_error hako "create (missing kernel)"
grep -q no-such-vmlinux "$tmp/err" || fail "missing kernel not named: $(cat "$tmp/err")"
leftovers hako x3

# a state root too long for the VM's unix socket paths (hako only)
long=$tmp/hako/$(printf 'r%.0s' $(seq 40))
"$hako" --root "$long" --config "$tmp/hako.toml" create --bundle "$B" \
	x4-0123456789012345678901234567890123456789012345678901234567890 \
	</dev/null >/dev/null 2>"$tmp/err" && fail "hako create with a long --root succeeded"
one_line_error hako "create (long --root)"
grep -q "use a shorter --root" "$tmp/err" || fail "long --root: $(cat "$tmp/err")"
[ -z "$(ls -A "$long" 2>/dev/null)" ] || fail "long --root: state left: $(ls -A "$long")"
rm -rf "$long"

if ! diff -u "$tmp/runc.rc" "$tmp/hako.rc"; then
	fail "exit codes differ (above: - runc, + hako)"
fi
echo "status transitions: runc: $(xargs <"$tmp/runc.status"); hako: $(xargs <"$tmp/hako.status")"
for rt in runc hako; do
	[ "$(xargs <"$tmp/$rt.status")" = "created running running stopped" ] ||
		fail "$rt: transitions $(xargs <"$tmp/$rt.status")"
done
for f in $(<"$tmp/runc.fields"); do
	grep -qw "$f" "$tmp/hako.fields" || fail "hako state lacks runc's field $f"
done
echo "state fields: runc: $(cat "$tmp/runc.fields"); hako: $(cat "$tmp/hako.fields")"
[ -z "$(ls -A "$tmp/hako")" ] || fail "hako state root not empty: $(ls -A "$tmp/hako")"
no_processes_left "$tmp"
[ "$failures" = 0 ] || exit 1
echo "oci-compat: ok"
