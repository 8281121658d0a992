#!/usr/bin/env bash
# Build hako's guest initrd: an uncompressed newc cpio whose /init is the
# static hako-agent, cached under $HAKO_CACHE/initrd/<hash>/initrd.cpio.
#
# Usage: guest/build-initrd.sh [--debug] [--agent PATH] [--out PATH]
#                              [--if-available] [--print-path]
#   --agent PATH    the agent binary (default: ${HAKO_BUILD:-build}/agent/hako-agent)
#   --debug         add static busybox as /bin/busybox with its applet links
#   --out PATH      write the initrd to PATH instead of the cache
#   --if-available  exit 0 with a note when the agent is not built yet
#                   (scripts/setup.sh runs this before the agent exists)
#   --print-path    print the cached initrd path (exit 1 if not built)
# Environment: HAKO_CACHE (default /var/cache/hako), HAKO_BUSYBOX (default
# /bin/busybox). The hash covers the agent, the flags, the busybox binary
# (--debug), this script and the cpio writer, so a rebuilt agent gets a new
# initrd; the initrd is uncompressed because unpacking gzip costs 27 s under
# software-emulated KVM.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${HAKO_CACHE:-/var/cache/hako}
busybox=${HAKO_BUSYBOX:-/bin/busybox}
# shellcheck source=guest/initrd-lib.sh
. "$here/initrd-lib.sh"

die() {
	echo "build-initrd: $*" >&2
	exit 1
}

agent=$repo/${HAKO_BUILD:-build}/agent/hako-agent
debug=0
out=
if_available=0
print_path=0
while [ $# -gt 0 ]; do
	case $1 in
	--debug) debug=1 ;;
	--agent)
		[ $# -ge 2 ] || die "--agent needs a path"
		agent=$2
		shift
		;;
	--out)
		[ $# -ge 2 ] || die "--out needs a path"
		out=$2
		shift
		;;
	--if-available) if_available=1 ;;
	--print-path) print_path=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
	shift
done

if [ ! -f "$agent" ]; then
	if [ "$if_available" = 1 ]; then
		echo "build-initrd: no agent at $agent yet: initrd not built (build the agent, then run guest/build-initrd.sh)"
		exit 0
	fi
	die "no agent at $agent: build it first (ninja -C build) or pass --agent PATH"
fi
initrd_check_static "$agent" || die "the agent must be a static executable"
if [ "$debug" = 1 ]; then
	initrd_check_static "$busybox" || die "--debug needs a static busybox (apt-get install busybox-static)"
fi

hash=$(
	{
		echo "debug=$debug"
		cat "$0" "$here/initrd-lib.sh" "$here/mkcpio.py" "$agent"
		if [ "$debug" = 1 ]; then cat "$busybox"; fi
	} | sha256sum | cut -c1-16
)
dir=$cache/initrd/$hash
cached=$dir/initrd.cpio

if [ "$print_path" = 1 ]; then
	if [ -f "$cached" ]; then
		echo "$cached"
		exit 0
	fi
	echo "build-initrd: initrd not built ($cached missing): run guest/build-initrd.sh" >&2
	exit 1
fi

if [ -z "$out" ] && [ -f "$cached" ]; then
	echo "build-initrd: cached: $cached"
	exit 0
fi

target=${out:-$cached}
mkdir -p "$(dirname "$target")"
list=$(mktemp)
trap 'rm -f "$list" "$target.tmp"' EXIT
{
	initrd_base_list
	if [ "$debug" = 1 ]; then initrd_busybox_list "$busybox"; fi
	echo "file init 755 $agent"
} >"$list"
python3 "$here/mkcpio.py" "$target.tmp" <"$list"
mv "$target.tmp" "$target"
echo "build-initrd: wrote $target ($(du -h "$target" | cut -f1)$([ "$debug" = 1 ] && echo ", with busybox"))"
