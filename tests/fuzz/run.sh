#!/usr/bin/env bash
# tests/fuzz/run.sh: build the ttrpc fuzz target with clang's libFuzzer
# (Debian: clang + libclang-rt-14-dev) and run it for a bounded time.
# Usage: run.sh SOURCE_ROOT BUILD_ROOT [SECONDS]. Exits 77 (skipped) when
# clang or libFuzzer is missing.
set -eu
src=$1
build=$2
secs=${3:-20}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
	echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev): skipped"
	exit 77
fi
out=$build/tests/fuzz
mkdir -p "$out/corpus"
probe='int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }'
if ! printf '%s\n' "$probe" | "$cc" -x c -fsanitize=fuzzer - -o "$out/probe" 2>/dev/null; then
	echo "fuzz: $cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): skipped"
	exit 77
fi
rm -f "$out/probe"

for f in ttrpc status any; do
	if [ ! -f "$build/proto/$f.pb-c.c" ]; then
		echo "fuzz: $build/proto/$f.pb-c.c missing: build the project first" >&2
		exit 1
	fi
done

# shellcheck disable=SC2046 # pkg-config prints several words on purpose
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I"$src" -I"$build" \
	$(pkg-config --cflags libprotobuf-c) \
	"$src/tests/fuzz/fuzz_ttrpc.c" "$src/lib/ttrpc.c" "$src/lib/loop.c" "$src/lib/err.c" \
	"$src/lib/log.c" "$src/lib/util.c" \
	"$build/proto/ttrpc.pb-c.c" "$build/proto/status.pb-c.c" "$build/proto/any.pb-c.c" \
	$(pkg-config --libs libprotobuf-c) -lpthread -o "$out/fuzz_ttrpc"

# Seeds: well-formed Echo, Error and Defer requests (stream 1, timeout
# 1 s), and two of them in one input. Bytes are built as \xHH escapes.
hex() { printf '\\x%02x' "$@"; }
frame() { # method
	local m=$1 body
	# Request{service "f", method m, payload "x", timeout_nano 1000}
	body="\\x0a\\x01f\\x12$(hex "${#m}")$m\\x1a\\x01x\\x20\\xe8\\x07"
	printf '%b' "\\x00\\x00\\x00$(hex $((${#m} + 11)))\\x00\\x00\\x00\\x01\\x01\\x00$body"
}
frame Echo >"$out/corpus/seed-echo"
frame Error >"$out/corpus/seed-error"
frame Defer >"$out/corpus/seed-defer"
{
	frame Echo
	frame Defer
} >"$out/corpus/seed-two"

exec "$out/fuzz_ttrpc" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$out/corpus"
