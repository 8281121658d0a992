#!/usr/bin/env bash
# Run hako's test suite (unit, host-mode and VM tests) through meson test and
# end with one line: "N passed, N failed, N skipped". Extra arguments go to
# meson test (a suite: --suite unit; one test: by name).
set -u
cd "$(dirname "$0")/.." || exit 1
build=${HAKO_BUILD:-build}

if [ ! -d "$build" ]; then
	echo "test: no build directory '$build': run scripts/setup.sh first" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if ! ninja -C "$build"; then
	echo "test: the build failed" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# The VM tests boot the agent initrd, which is keyed by the agent binary
# just built: pack it again if the agent changed (cached otherwise).
if [ -x guest/build-initrd.sh ] && [ -x "$build/agent/hako-agent" ]; then
	guest/build-initrd.sh --if-available --agent "$build/agent/hako-agent" >/dev/null ||
		echo "test: guest/build-initrd.sh failed; VM tests will skip" >&2
fi

meson test -C "$build" --print-errorlogs "$@"
status=$?

python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                r = json.loads(line).get("result")
            except ValueError:
                print(f"test: unreadable test log line: {line[:80]!r}", file=sys.stderr)
                r = "ERROR"
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
except OSError as e:
    print(f"test: no test log: {e}", file=sys.stderr)
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
