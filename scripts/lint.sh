#!/usr/bin/env bash
# Style checks CI runs: clang-format on every C file (--fix rewrites them)
# and shellcheck on every shell script. Exits non-zero on a finding.
set -u
cd "$(dirname "$0")/.." || exit 1

mapfile -t cfiles < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | grep -v -e '^build' -e '\.pb-c\.')
mapfile -t shfiles < <(git ls-files --cached --others --exclude-standard -- '*.sh' '.ci/run')
rc=0

if [ "${1:-}" = --fix ]; then
	clang-format -i "${cfiles[@]}"
	exit 0
fi
if [ "${#cfiles[@]}" -gt 0 ] && ! clang-format --dry-run -Werror "${cfiles[@]}"; then
	echo "lint: run scripts/lint.sh --fix to format the C files" >&2
	rc=1
fi
if [ "${#shfiles[@]}" -gt 0 ] && ! shellcheck "${shfiles[@]}"; then
	rc=1
fi
exit "$rc"
