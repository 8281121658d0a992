#!/usr/bin/env bash
# tests/fuzz/run.sh: build a fuzz target (tests/fuzz/fuzz_TARGET.c) with
# clang's libFuzzer (Debian: clang + libclang-rt-14-dev) and run it for a
# bounded time. Usage: run.sh SOURCE_ROOT BUILD_ROOT TARGET [SECONDS].
# Exits 77 (skipped) when clang or libFuzzer is missing.
set -eu
src=$1
build=$2
target=$3
secs=${4:-20}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
	echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev): skipped"
	exit 77
fi
out=$build/tests/fuzz
corpus=$out/corpus-$target
mkdir -p "$corpus"
probe='int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }'
if ! printf '%s\n' "$probe" | "$cc" -x c -fsanitize=fuzzer - -o "$out/probe-$target" 2>/dev/null; then
	echo "fuzz: $cc cannot link libFuzzer (apt-get install libclang-rt-14-dev): skipped"
	exit 77
fi
rm -f "$out/probe-$target"

case $target in
ttrpc)
	protos="ttrpc status any"
	libs="libprotobuf-c"
	srcs="$src/lib/ttrpc.c $src/lib/loop.c"
	;;
pbjson)
	protos="agent oci types empty"
	libs="libprotobuf-c json-c"
	srcs="$src/lib/pbjson.c"
	;;
*)
	echo "fuzz: unknown target $target" >&2
	exit 1
	;;
esac
for f in $protos; do
	if [ ! -f "$build/proto/$f.pb-c.c" ]; then
		echo "fuzz: $build/proto/$f.pb-c.c missing: build the project first" >&2
		exit 1
	fi
	srcs="$srcs $build/proto/$f.pb-c.c"
done

# shellcheck disable=SC2046,SC2086 # word lists on purpose
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ulinux -I"$src" -I"$build" \
	$(pkg-config --cflags $libs) \
	"$src/tests/fuzz/fuzz_$target.c" $srcs "$src/lib/err.c" "$src/lib/log.c" \
	"$src/lib/util.c" $(pkg-config --libs $libs) -lpthread -o "$out/fuzz_$target"

# Seeds. ttrpc: well-formed Echo, Error and Defer requests (stream 1,
# timeout 1 s), and two in one input, built as \xHH escapes. pbjson: the
# unit tests' config.json.
hex() { printf '\\x%02x' "$@"; }
frame() { # method
	local m=$1 body
	# Request{service "f", method m, payload "x", timeout_nano 1000}
	body="\\x0a\\x01f\\x12$(hex "${#m}")$m\\x1a\\x01x\\x20\\xe8\\x07"
	printf '%b' "\\x00\\x00\\x00$(hex $((${#m} + 11)))\\x00\\x00\\x00\\x01\\x01\\x00$body"
}
if [ "$target" = ttrpc ]; then
	frame Echo >"$corpus/seed-echo"
	frame Error >"$corpus/seed-error"
	frame Defer >"$corpus/seed-defer"
	{
		frame Echo
		frame Defer
	} >"$corpus/seed-two"
else
	cp "$src/tests/unit/lib/test_pbjson_config.json" "$corpus/seed-config.json"
fi

exec "$out/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=16384 -print_final_stats=1 "$corpus"
