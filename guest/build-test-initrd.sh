#!/usr/bin/env bash
# Build a throwaway initrd for tests: static busybox with its applet links,
# the usual directories, and a given /init (script or static binary).
#
# Usage: guest/build-test-initrd.sh OUT [--init FILE] [--add SRC:DST]...
#   OUT            the uncompressed newc cpio to write
#   --init FILE    becomes /init (default: mount proc, sys, dev; run sh;
#                  then reboot -f)
#   --add SRC:DST  also put host file SRC at DST (parent directories made)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=guest/initrd-lib.sh
. "$here/initrd-lib.sh"

die() {
	echo "build-test-initrd: $*" >&2
	exit 1
}

[ $# -ge 1 ] || die "usage: $0 OUT [--init FILE] [--add SRC:DST]..."
out=$1
shift
init=
adds=()
while [ $# -gt 0 ]; do
	case $1 in
	--init)
		[ $# -ge 2 ] || die "--init needs a file"
		init=$2
		shift 2
		;;
	--add)
		[ $# -ge 2 ] || die "--add needs SRC:DST"
		case $2 in *:*) ;; *) die "--add needs SRC:DST, got '$2'" ;; esac
		adds+=("$2")
		shift 2
		;;
	*) die "unknown argument: $1" ;;
	esac
done

busybox=${HAKO_BUSYBOX:-/bin/busybox}
initrd_check_static "$busybox" || die "need a static busybox (apt-get install busybox-static)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$init" ]; then
	init=$tmp/init
	cat >"$init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
sh
reboot -f
INIT
fi
[ -f "$init" ] || die "no such init: $init"

{
	initrd_base_list
	initrd_busybox_list "$busybox"
	echo "file init 755 $init"
	for a in "${adds[@]}"; do
		src=${a%%:*}
		dst=${a#*:}
		dst=${dst#/}
		[ -f "$src" ] || die "no such file: $src"
		parent=$(dirname "$dst")
		path=
		while [ "$parent" != . ] && [ -n "$parent" ]; do
			path="$parent $path"
			parent=$(dirname "$parent")
		done
		for p in $path; do
			echo "dir $p 755"
		done
		echo "file $dst $(stat -c '%a' "$src") $src"
	done
} | awk '!seen[$1 " " $2]++' >"$tmp/list"
python3 "$here/mkcpio.py" "$out" <"$tmp/list"
