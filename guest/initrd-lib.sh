# shellcheck shell=bash
# Entry lists for guest/mkcpio.py shared by build-initrd.sh and
# build-test-initrd.sh (sourced, not run).

# The directories and device nodes every hako initrd has: /dev/console must
# exist before /init runs, or the kernel starts it without stdio.
initrd_base_list() {
	local d
	for d in dev proc sys tmp run mnt etc bin sbin usr usr/bin usr/sbin; do
		echo "dir $d 755"
	done
	echo "nod dev/console 600 c 5 1"
	echo "nod dev/null 666 c 1 3"
}

# Static busybox as /bin/busybox plus one symlink per applet, at the paths
# busybox itself reports (bin/, sbin/, usr/bin/, usr/sbin/).
initrd_busybox_list() {
	local busybox=$1 applet
	echo "file bin/busybox 755 $busybox"
	while IFS= read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		echo "slink $applet /bin/busybox"
	done < <("$busybox" --list-full | sort)
}

# Fails unless $1 is a statically linked ELF executable: an initrd has no
# shared libraries.
initrd_check_static() {
	local f=$1
	[ -f "$f" ] || {
		echo "$f: no such file" >&2
		return 1
	}
	if ! readelf -h "$f" >/dev/null 2>&1; then
		echo "$f: not an ELF executable" >&2
		return 1
	fi
	if readelf -l "$f" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		echo "$f: dynamically linked; the initrd has no shared libraries (link it statically)" >&2
		return 1
	fi
}
