#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for hako: install the packages it builds
# and runs with, build everything with Meson, then build the guest kernel and
# initrd (cached outside the repo, see docs/testing.md).
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

# The kernel takes 5-15 minutes the first time, then is cached; the initrd
# needs the agent built above and is skipped with a note until it exists.
guest/build-kernel.sh
guest/build-initrd.sh --if-available
echo "setup: done"
