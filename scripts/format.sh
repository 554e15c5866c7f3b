#!/bin/sh
# Format every C file with the committed .clang-format, or (--check) fail
# listing the files that are not formatted. CI runs the check.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include lib node cli tests -name '*.[ch]')
if [ "${1:-}" = --check ]; then
	bad=""
	for f in $files; do
		clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
	done
	if [ -n "$bad" ]; then
		echo "not formatted (run scripts/format.sh):$bad" >&2
		exit 1
	fi
	exit 0
fi
for f in $files; do
	clang-format -i "$f"
done
