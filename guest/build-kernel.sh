#!/usr/bin/env bash
# Build hako's guest kernel from Debian's linux-source-6.1: hako's patches,
# tinyconfig + guest/kernel.config, cached under $HAKO_CACHE/kernel/<hash>/.
#
# Usage: guest/build-kernel.sh [--print-path | --print-dir] [--keep-source]
#   (no option)    build unless cached; prints where vmlinux and bzImage are
#   --print-path   print the cached vmlinux path (exit 1 if not built)
#   --print-dir    print the cache directory for this fragment/patch set
#   --keep-source  keep the built source tree (DIR/src) for kernel hacking
# Environment: HAKO_CACHE (default /var/cache/hako), HAKO_KERNEL_TARBALL
# (default /usr/src/linux-source-6.1.tar.xz), HAKO_JOBS (default nproc).
#
# The hash covers the fragment, the patches, this script and the tarball's
# size and date, so changing any of them builds a new kernel in a new
# directory. A failed build keeps DIR/src and resumes incrementally; a
# successful one removes it (about 1.5 GiB) unless --keep-source is given.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${HAKO_CACHE:-/var/cache/hako}
tarball=${HAKO_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
fragment=$here/kernel.config
jobs=${HAKO_JOBS:-$(nproc)}

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

mode=build
keep_source=0
for arg in "$@"; do
	case $arg in
	--print-path) mode=path ;;
	--print-dir) mode=dir ;;
	--keep-source) keep_source=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument: $arg (see --help)" ;;
	esac
done

[ -r "$tarball" ] || die "no kernel source tarball at $tarball (apt-get install linux-source-6.1)"

hash=$(
	{
		cat "$fragment" "$0"
		for p in "$here"/patches/*.patch; do
			[ -e "$p" ] || continue
			echo "patch ${p##*/}"
			cat "$p"
		done
		stat -L -c '%s %Y' "$tarball"
	} | sha256sum | cut -c1-16
)
dir=$cache/kernel/$hash

case $mode in
dir)
	echo "$dir"
	exit 0
	;;
path)
	if [ -f "$dir/vmlinux" ]; then
		echo "$dir/vmlinux"
		exit 0
	fi
	echo "build-kernel: guest kernel not built ($dir/vmlinux missing): run guest/build-kernel.sh" >&2
	exit 1
	;;
esac

if [ -f "$dir/vmlinux" ] && [ -f "$dir/bzImage" ]; then
	echo "build-kernel: cached: $dir/vmlinux"
	exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
# Another run may have finished the build while this one waited.
if [ -f "$dir/vmlinux" ] && [ -f "$dir/bzImage" ]; then
	echo "build-kernel: cached: $dir/vmlinux"
	exit 0
fi

start=$(date +%s)
src=$dir/src
if [ ! -f "$src/.hako-extracted" ]; then
	echo "build-kernel: extracting $tarball into $src"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
	touch "$src/.hako-extracted"
fi

if [ ! -f "$src/.hako-patched" ]; then
	for p in "$here"/patches/*.patch; do
		[ -e "$p" ] || continue
		echo "build-kernel: applying ${p##*/}"
		if ! patch -d "$src" -p1 --forward --quiet <"$p"; then
			rm -rf "$src"
			die "patch ${p##*/} does not apply"
		fi
	done
	touch "$src/.hako-patched"
fi

kmake=(make -C "$src" ARCH=x86_64 -j"$jobs")

# The configuration depends only on what the hash covers: configure a tree
# once, so that a resumed build does not rewrite autoconf.h and start over.
if [ ! -f "$src/.hako-configured" ]; then
	echo "build-kernel: configuring (tinyconfig + guest/kernel.config)"
	"${kmake[@]}" tinyconfig >"$dir/config.log" 2>&1 || die "make tinyconfig failed, see $dir/config.log"
	# allnoconfig semantics (-n): options the fragment makes visible stay off
	# unless the fragment asks for them, which keeps the kernel minimal.
	(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n .config "$fragment") >>"$dir/config.log" 2>&1 ||
		die "merge_config.sh failed, see $dir/config.log"

	# Every option of the fragment must end up as written; dependencies that
	# are not met make Kconfig drop an option silently.
	drift=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			name=${line%%=*}
			if ! grep -qxF -- "$line" "$src/.config"; then
				got=$(grep -E "^(# )?${name}[= ]" "$src/.config" || echo "(absent)")
				echo "build-kernel: config drift: asked '$line', got '$got'" >&2
				drift=1
			fi
			;;
		"# CONFIG_"*" is not set")
			name=${line#"# "}
			name=${name%% *}
			if grep -qE "^$name=" "$src/.config"; then
				echo "build-kernel: config drift: asked '$line', got '$(grep -E "^$name=" "$src/.config")'" >&2
				drift=1
			fi
			;;
		esac
	done <"$fragment"
	[ "$drift" = 0 ] || die "the fragment does not apply cleanly to tinyconfig (see above; fix guest/kernel.config)"
	touch "$src/.hako-configured"
fi

echo "build-kernel: building vmlinux and bzImage with $jobs jobs (log: $dir/build.log)"
set +e
"${kmake[@]}" vmlinux bzImage 2>&1 | tee "$dir/build.log" | {
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [ $((n % 200)) = 0 ]; then
			echo "build-kernel: $n steps, at:$line"
		fi
	done
}
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
	tail -n 40 "$dir/build.log" >&2
	die "kernel build failed (exit $status), full log: $dir/build.log"
fi

# The VMMs boot the uncompressed ELF through its PVH entry point.
readelf -n "$src/vmlinux" | grep -q 'Xen.*0x00000012' ||
	die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): is CONFIG_PVH on?"

install -m 0644 "$src/.config" "$dir/config"
install -m 0644 "$src/System.map" "$dir/System.map"
install -m 0644 "$src/arch/x86/boot/bzImage" "$dir/bzImage.tmp"
install -m 0644 "$src/vmlinux" "$dir/vmlinux.tmp"
mv "$dir/bzImage.tmp" "$dir/bzImage"
mv "$dir/vmlinux.tmp" "$dir/vmlinux"
secs=$(($(date +%s) - start))
echo "built $(date -u +%FT%TZ) in ${secs}s with $jobs jobs, $(uname -m) $(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p;s/^SUBLEVEL = //p' "$src/Makefile" | paste -sd.)" >"$dir/build-info"
if [ "$keep_source" = 0 ]; then
	rm -rf "$src"
fi
echo "build-kernel: built in ${secs}s: $dir/vmlinux ($(du -h "$dir/vmlinux" | cut -f1)), $dir/bzImage"
