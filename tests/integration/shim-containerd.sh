#!/bin/bash
# tests/integration/shim-containerd.sh: containerd-shim-hako-v2 under a
# private containerd: `ctr run --rm` of a locally built busybox image in a
# VM shows the output and the exit code, the task events arrive in order
# (and /tasks/oom for a process over its memory limit),
# run -d + exec + kill, pause/resume and metrics work, and nothing
# (process, mount, socket, run directory) is left afterwards.
# Usage: shim-containerd.sh SHIM_BINARY SOURCE_DIR. Root; exits 77 without
# containerd/ctr/busybox or a built guest kernel and initrd.
set -u

shim=$(realpath "$1")
src=$2
IMG=docker.io/library/hako-bb:latest
RT=io.containerd.hako.v2
fails=0

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root"
for c in containerd ctr busybox sha256sum; do
	command -v "$c" >/dev/null || skip "$c not installed"
done
if [ -z "${HAKO_CONFIG:-}" ]; then
	"$src/guest/build-kernel.sh" --print-path >/dev/null 2>&1 ||
		skip "guest kernel not built (guest/build-kernel.sh)"
	"$src/guest/build-initrd.sh" --print-path >/dev/null 2>&1 ||
		skip "guest initrd not built (guest/build-initrd.sh)"
fi

SHIM_DIR=$(mktemp -d /tmp/hako-shim-test.XXXXXX)
# shellcheck source=tests/integration/shim-lib.sh
. "$(dirname "$0")/shim-lib.sh"
EVENTS_PID=

cleanup() {
	[ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null
	for id in t3 c2 p1 d1 r1; do ctr -a "$SHIM_DIR/c.sock" tasks kill -s KILL "$id" >/dev/null 2>&1; done
	shim_stop_containerd
	# shims of this containerd carry its socket path in their arguments;
	# what a killed one leaves, its `delete` cleans up (as containerd does)
	pkill -KILL -f -- "-address $SHIM_DIR/c.sock" 2>/dev/null
	shim_delete_tasks "$shim" t1 t2 t3 t4 t5 t6 t7 t8 o1 c2 p1 tt1 d1 r1
	shim_unmount_below "$SHIM_DIR"
	rm -rf "$SHIM_DIR"
}
trap cleanup EXIT

ctrd() {
	timeout 180 ctr -a "$SHIM_DIR/c.sock" "$@"
}

# ctr's task list has ID in STATUS
task_is() {
	ctr -a "$SHIM_DIR/c.sock" tasks ls | grep -q "^$1 .*$2"
}

no_process() {
	! pgrep -f -- "$1" >/dev/null
}

shims() {
	pgrep -cf -- "-address $SHIM_DIR/c.sock"
}

mkdir -p "$SHIM_DIR/bin"
ln -s "$shim" "$SHIM_DIR/bin/containerd-shim-hako-v2"
shim_build_image "$SHIM_DIR/image.tar" "$IMG"
shim_start_containerd "$SHIM_DIR/bin" || exit 1
ctrd images import "$SHIM_DIR/image.tar" >/dev/null || {
	echo "FAIL: image import"
	exit 1
}
ctr -a "$SHIM_DIR/c.sock" events >"$SHIM_DIR/events.txt" 2>&1 &
EVENTS_PID=$!
sleep 0.2

# 1. output and exit code of one container in its own VM
t0=$(date +%s.%N)
out=$(ctrd run --rm --runtime "$RT" "$IMG" t1 echo hi </dev/null 2>"$SHIM_DIR/t1.err")
rc=$?
t1=$(date +%s.%N)
check "run --rm echo hi prints hi (rc=$rc, out='$out')" test "$rc" = 0 -a "$out" = hi
echo "ctr run --rm echo hi: $(echo "$t1 - $t0" | bc) s"
[ "$rc" = 0 ] || cat "$SHIM_DIR/t1.err"

ctrd run --rm --runtime "$RT" "$IMG" t2 sh -c 'echo out; echo err >&2; exit 3' \
	</dev/null >"$SHIM_DIR/t2.out" 2>"$SHIM_DIR/t2.err"
rc=$?
check "exit code 3 comes back (rc=$rc)" [ "$rc" = 3 ]
check "stdout and stderr kept apart" grep -qx out "$SHIM_DIR/t2.out"
check "stderr reaches ctr" grep -qx err "$SHIM_DIR/t2.err"

# no byte lost at exit: the last line of a long output arrives
n=$(ctrd run --rm --runtime "$RT" "$IMG" t6 seq 1 30000 </dev/null | tail -1)
check "all of a long output arrives before the exit (last line '$n')" [ "$n" = 30000 ]

# more output than a pipe holds, with nobody reading it (--null-io), and
# into a log file (--log-uri file://)
ctrd run --rm --null-io --runtime "$RT" "$IMG" t4 sh -c 'yes | head -c 300000; exit 5' </dev/null
rc=$?
check "null io: the output is drained, exit code 5 comes back (rc=$rc)" [ "$rc" = 5 ]
ctrd run --rm --log-uri "file://$SHIM_DIR/t5.log" --runtime "$RT" "$IMG" t5 \
	sh -c 'echo to-log; echo err-log >&2' </dev/null
check "log-uri file:// gets stdout and stderr" sh -c "grep -qx to-log '$SHIM_DIR/t5.log' && grep -qx err-log '$SHIM_DIR/t5.log'"

# the runtime's ConfigPath option (ctr --runtime-config-path; CRI's
# ConfigPath) chooses hako's configuration file
err=$(ctrd run --rm --runtime "$RT" --runtime-config-path /nonexistent/hako.toml "$IMG" t7 true \
	</dev/null 2>&1)
check "ConfigPath is read (missing file: '$err')" sh -c "echo '$err' | grep -q /nonexistent/hako.toml"
if [ -z "${HAKO_CONFIG:-}" ]; then
	printf '[hypervisor.qemu]\ndefault_memory = 384\n' >"$SHIM_DIR/hako.toml"
	kb=$(ctrd run --rm --runtime "$RT" --runtime-config-path "$SHIM_DIR/hako.toml" "$IMG" t8 \
		head -1 /proc/meminfo </dev/null | tr -s ' ' | cut -d' ' -f2)
	check "ConfigPath's default_memory = 384 shapes the guest (MemTotal ${kb:-?} kB)" \
		test "${kb:-0}" -gt 300000 -a "${kb:-0}" -lt 393216
fi

# a process over its 32 MiB memory limit: the guest's OOM killer ends it
# (the /tasks/oom event is checked with the others below)
# shellcheck disable=SC2016 # $x is the guest shell's
ctrd run --rm --memory-limit 33554432 --runtime "$RT" "$IMG" o1 \
	sh -c 'x=0123456789; while :; do x=$x$x; done' </dev/null >/dev/null 2>"$SHIM_DIR/o1.err"
rc=$?
check "memory hog over its limit is killed (rc=$rc)" [ "$rc" = 137 ]

# 2. a detached task: exec, pause/resume, metrics, kill
if ctrd run -d --runtime "$RT" "$IMG" t3 sleep 600 </dev/null >/dev/null; then
	out=$(ctrd tasks exec --exec-id e1 t3 echo from-exec </dev/null)
	check "task exec prints (out='$out')" [ "$out" = from-exec ]
	check "pause" ctrd tasks pause t3
	check "paused state" task_is t3 PAUSED
	check "resume" ctrd tasks resume t3
	ctrd tasks metrics t3 >"$SHIM_DIR/metrics.txt" 2>&1
	check "metrics ($(tr '\n' ' ' <"$SHIM_DIR/metrics.txt" | cut -c1-160))" [ $? = 0 ]
	check "kill" ctrd tasks kill -s KILL t3
	for _ in $(seq 100); do
		task_is t3 STOPPED && break
		sleep 0.2
	done
	check "killed task is stopped" task_is t3 STOPPED
	check "task delete" ctrd tasks delete t3
	check "container delete" ctrd containers delete t3
else
	check "run -d" false
fi

# 3. two containers of one pod (CRI annotations): one shim, one VM
POD=(--annotation io.kubernetes.cri.sandbox-id=p1)
if ctrd run -d --runtime "$RT" "${POD[@]}" \
	--annotation io.kubernetes.cri.container-type=sandbox "$IMG" p1 sleep 600 </dev/null >/dev/null; then
	check "second container of the pod starts" ctrd run -d --runtime "$RT" \
		"${POD[@]}" --annotation io.kubernetes.cri.container-type=container "$IMG" c2 \
		sleep 600 </dev/null
	n=$(shims)
	check "one shim for the pod's two containers ($n)" [ "$n" = 1 ]
	out=$(ctrd tasks exec --exec-id e2 c2 echo in-pod </dev/null)
	check "exec in the pod's second container (out='$out')" [ "$out" = in-pod ]
	ctrd tasks kill -s KILL c2
	for _ in $(seq 100); do
		task_is c2 STOPPED && break
		sleep 0.2
	done
	check "second container delete" ctrd tasks delete c2
	ctrd containers delete c2
	check "pod sandbox still runs" task_is p1 RUNNING
	ctrd tasks kill -s KILL p1
	for _ in $(seq 100); do
		task_is p1 STOPPED && break
		sleep 0.2
	done
	check "pod sandbox delete" ctrd tasks delete p1
	ctrd containers delete p1
else
	check "run -d pod sandbox" false
fi

# 4. a terminal: ctr -t gives the process a tty; its exit code comes back
if command -v script >/dev/null; then
	timeout 180 script -qec "ctr -a '$SHIM_DIR/c.sock' run --rm -t --runtime $RT $IMG tt1 sh -c 'tty; exit 4'" \
		/dev/null </dev/null >"$SHIM_DIR/tty.out"
	rc=$?
	# script's terminal echoes a NUL written to it as "^@" (not from the guest:
	# ctr run -t with runc shows it too); keep the last line
	out=$(tr -d '\r' <"$SHIM_DIR/tty.out" | tail -1 | sed 's/^\^@//')
	check "terminal: the process has a tty (out='$out', rc=$rc)" test "$rc" = 4 -a "$out" = /dev/pts/0
fi

# 5. a shim killed under a running task: containerd runs our `delete`,
# which ends the VM it left and removes its run directory and mounts
if ctrd run -d --runtime "$RT" "$IMG" d1 sleep 600 </dev/null >/dev/null; then
	digest=$(printf '%s' "$SHIM_DIR/c.sock/default/d1" | sha256sum | cut -d' ' -f1)
	run=/run/hako/shim/${digest:0:16}
	check "run directory of d1 exists" [ -d "$run" ]
	pkill -KILL -f -- "-id d1 -address $SHIM_DIR/c.sock"
	for _ in $(seq 50); do
		[ -e "$run" ] || break
		sleep 0.2
	done
	check "killed shim: its run directory is gone" [ ! -e "$run" ]
	check "killed shim: its VM is gone ($(pgrep -af -- "$run/" | cut -c1-160))" no_process "$run/"
	ctrd containers delete d1
else
	check "run -d d1" false
fi

sleep 0.5
kill "$EVENTS_PID" 2>/dev/null
wait "$EVENTS_PID" 2>/dev/null
EVENTS_PID=
order=$(grep -o '/tasks/[a-z-]* .*"container_id":"t1"\|/tasks/[a-z-]*' "$SHIM_DIR/events.txt" |
	awk '{print $1}' | tr '\n' ' ')
echo "events: $order"
check "events create, start, exit, delete in order" \
	sh -c "echo '$order' | grep -q '/tasks/create /tasks/start /tasks/exit /tasks/delete'"
check "exec events" sh -c "grep -q /tasks/exec-added '$SHIM_DIR/events.txt' && grep -q /tasks/exec-started '$SHIM_DIR/events.txt'"
check "oom event for o1" grep -q '/tasks/oom.*"container_id":"o1"' "$SHIM_DIR/events.txt"
check "pause events" sh -c "grep -q /tasks/paused '$SHIM_DIR/events.txt' && grep -q /tasks/resumed '$SHIM_DIR/events.txt'"

# 6. containerd restarts under a running task: the shim lives on,
# containerd reconnects through <bundle>/address, the task still answers
if ctrd run -d --runtime "$RT" "$IMG" r1 sleep 600 </dev/null >/dev/null; then
	shim_stop_containerd
	check "the shim outlives containerd" test "$(shims)" = 1
	shim_start_containerd "$SHIM_DIR/bin" || exit 1
	check "after the restart the task runs" task_is r1 RUNNING
	out=$(ctrd tasks exec --exec-id e3 r1 echo after-restart </dev/null)
	check "exec after the restart (out='$out')" [ "$out" = after-restart ]
	ctrd tasks kill -s KILL r1
	for _ in $(seq 100); do
		task_is r1 STOPPED && break
		sleep 0.2
	done
	check "delete after the restart" ctrd tasks delete r1
	ctrd containers delete r1
else
	check "run -d r1" false
fi

# 7. nothing left behind
sleep 1
check "no shim process left" [ "$(shims)" = 0 ]
check "no mount left under $SHIM_DIR" sh -c "! grep -q ' $SHIM_DIR/' /proc/self/mountinfo"
# each pod's socket and run directory are named by sha256(address/ns/pod)
for id in t1 t2 t3 t4 t5 t6 t7 t8 o1 p1 tt1 d1 r1; do
	digest=$(printf '%s' "$SHIM_DIR/c.sock/default/$id" | sha256sum | cut -d' ' -f1)
	check "no socket left for $id" [ ! -e "/run/containerd/s/$digest" ]
	run=/run/hako/shim/${digest:0:16}
	check "no run directory left for $id" [ ! -e "$run" ]
	check "no mount left for $id" sh -c "! grep -q ' $run' /proc/self/mountinfo"
done

if [ "$fails" != 0 ]; then
	echo "--- shim and containerd errors (containerd.log)"
	grep -E 'containerd-shim-hako-v2|level=(error|warning)' "$SHIM_DIR/containerd.log" | tail -60
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
