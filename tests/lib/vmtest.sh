# shellcheck shell=bash
# tests/lib/vmtest.sh: what the integration scripts share: skip and fail,
# the guest's kernel and initrd, and leaving nothing behind (processes,
# mounts, the temp dir). Source it; it only defines functions.

# skip WHY: this test cannot run here (meson counts exit 77 as skipped).
skip() {
	echo "SKIP: $*"
	exit 77
}

# fail WHY: one more failure in $failures; the test goes on.
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# guest_paths: sets kernel and initrd to the built guest's, or skips.
# Run from the repository root.
# shellcheck disable=SC2034 # kernel and initrd are for the caller
guest_paths() {
	kernel=$(guest/build-kernel.sh --print-path 2>/dev/null) || skip "guest kernel not built"
	initrd=$(guest/build-initrd.sh --print-path 2>/dev/null) || skip "agent initrd not built"
}

# reap_dir DIR: kills what still runs with DIR in its command line,
# unmounts (lazily, innermost first) what is mounted below DIR, removes DIR.
reap_dir() {
	local pid
	for pid in $(pgrep -f "$1"); do
		kill -KILL "$pid" 2>/dev/null
	done
	awk -v t="$1" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r mnt; do
			umount -l "$mnt"
		done
	rm -rf "$1"
}

# no_processes_left PATTERN: fails when a process's command line has PATTERN.
no_processes_left() {
	if pgrep -f "$1" >/dev/null; then
		fail "processes left: $(pgrep -af "$1")"
	fi
}

# qemu_config FILE: a hako configuration at FILE that boots the guest_paths
# kernel and initrd under QEMU (256 MiB) and waits up to 60 s for the agent.
qemu_config() {
	cat >"$1" <<TOML
[runtime]
hypervisor_name = "qemu"

[hypervisor.qemu]
kernel = "$kernel"
initrd = "$initrd"
default_memory = 256

[agent.hako]
dial_timeout = 60
TOML
}
