#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for hako: install the packages it builds
# and runs with, build everything with Meson, then build the guest kernel and
# initrd (cached outside the repo, see guest/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)

mapfile -t packages < <(grep -v -e '^#' -e '^$' scripts/packages.txt)
echo "setup: installing ${#packages[@]} Debian packages"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"

build=${HAKO_BUILD:-build}
if [ -d "$build" ]; then
	meson setup --reconfigure "$build"
else
	meson setup "$build"
fi
ninja -C "$build"

for step in guest/build-kernel.sh guest/build-initrd.sh; do
	if [ -x "$step" ]; then
		"$step"
	fi
done
echo "setup: done"
