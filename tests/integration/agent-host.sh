#!/usr/bin/env bash
# Host-mode agent test: build a busybox rootfs, run hako-agent --listen in
# fresh pid/mount namespaces, drive a container lifecycle through
# agent-client, then check nothing is left behind (processes, mounts,
# cgroups). Needs root and busybox-static; exits 77 (skip) without them.
# Usage: agent-host.sh HAKO_AGENT AGENT_CLIENT
set -u
agent_bin=$1
client_bin=$2

if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root (namespaces, mounts, cgroups)"
	exit 77
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" | grep -q 'statically linked'; then
	echo "skip: needs a static busybox (apt-get install busybox-static)"
	exit 77
fi
if ! [ -d /sys/fs/cgroup/memory ] && ! [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	echo "skip: no cgroup hierarchy mounted"
	exit 77
fi

tmp=$(mktemp -d /tmp/hako-agent-test.XXXXXX)
# The user-namespace container (root = host uid 100000) must reach the rootfs.
chmod 755 "$tmp"
prefix=/hako-test-$$
agent_pid=
unshare_pid=

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	if [ -n "$unshare_pid" ] && kill -0 "$unshare_pid" 2>/dev/null; then
		kill -TERM "$unshare_pid" 2>/dev/null
		sleep 1
		kill -KILL "$unshare_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

root=$tmp/rootfs
mkdir -p "$root"/{bin,sbin,proc,dev,sys,tmp,etc,mnt}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

"$agent_bin" --version >/dev/null || exit 1
if file -L "$agent_bin" | grep -q 'statically linked'; then
	echo "ok - hako-agent is statically linked"
else
	echo "not ok - hako-agent is not statically linked: $(file -L "$agent_bin")"
	exit 1
fi

unshare -p -f --kill-child --mount-proc "$agent_bin" --listen "unix:$tmp/agent.sock" --debug \
	2>"$tmp/agent.log" &
unshare_pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/agent.sock" ] && break
	sleep 0.1
done
agent_pid=$(pgrep -P "$unshare_pid" | head -n1)
if ! [ -S "$tmp/agent.sock" ] || [ -z "$agent_pid" ]; then
	echo "FAIL: the agent did not come up"
	cat "$tmp/agent.log"
	exit 1
fi

rc=0
"$client_bin" --addr "unix:$tmp/agent.sock" --rootfs "$root" --cgroup-root /sys/fs/cgroup \
	--cgroup-prefix "$prefix" --agent-pid "$agent_pid" --host-mode || rc=1

kill -TERM "$agent_pid"
for _ in $(seq 50); do
	kill -0 "$unshare_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$unshare_pid" 2>/dev/null; then
	echo "not ok - the agent did not exit on SIGTERM"
	rc=1
else
	echo "ok - the agent exits on SIGTERM"
fi
unshare_pid=

# Nothing may outlive the agent.
left=
for p in /proc/[0-9]*; do
	r=$(readlink "$p/root" 2>/dev/null) || continue
	case $r in "$root"*) left="$left ${p#/proc/}" ;; esac
done
if [ -n "$left" ]; then
	echo "not ok - processes left in the rootfs:$left"
	rc=1
else
	echo "ok - no process left"
fi
if grep -q "$tmp" /proc/self/mountinfo; then
	echo "not ok - mounts left:"
	grep "$tmp" /proc/self/mountinfo
	rc=1
else
	echo "ok - no mount left"
fi
cgs=$(find /sys/fs/cgroup -maxdepth 2 -name "${prefix#/}" 2>/dev/null)
if [ -n "$cgs" ]; then
	echo "not ok - cgroups left: $cgs"
	rc=1
else
	echo "ok - no cgroup left"
fi
if [ "$rc" != 0 ]; then
	echo "--- agent log"
	tail -n 60 "$tmp/agent.log"
fi
exit "$rc"
