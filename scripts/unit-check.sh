#!/usr/bin/env bash
# Checks the systemd unit's sandbox: `systemd-analyze security --offline` must rate it at or
# below MAX_EXPOSURE, and must parse it without warnings (a misspelt directive is ignored by
# systemd, so it would silently weaken the sandbox).
#
#   scripts/unit-check.sh [UNIT_FILE]      # default: systemd/llmsd.service
#
# Exits 0 with "skipped: ..." when systemd-analyze is missing or too old (--offline,
# --threshold and --root came with systemd 250). `systemd-analyze verify` is not used: it
# fails on any machine where /usr/local/bin/llmsd is not installed.
#
# The unit is copied into an empty root (--root) as llmsd.service, so drop-ins installed on
# this machine (/etc/systemd/system/llmsd.service.d) do not change the score.
set -euo pipefail

# Exposure as systemd-analyze prints it (0.0 to 10.0). Lower it when the unit gets stricter;
# raising it needs a reason in systemd/README.md.
MAX_EXPOSURE=3.1

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unit="${1:-$repo/systemd/llmsd.service}"
[[ -f "$unit" ]] || { echo "unit-check: $unit: no such file" >&2; exit 2; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "unit-check: skipped: systemd-analyze not found" >&2
    exit 0
fi
help="$(systemd-analyze --help 2>&1 || true)"
for opt in --offline --threshold --root; do
    if ! grep -q -- "$opt" <<<"$help"; then
        echo "unit-check: skipped: systemd-analyze does not support $opt (needs systemd 250 or later)" >&2
        exit 0
    fi
done

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system"
cp "$unit" "$root/etc/systemd/system/llmsd.service"

# --threshold counts tenths: 3.1 is 31.
max_tenths=$((10#${MAX_EXPOSURE%.*} * 10 + 10#${MAX_EXPOSURE#*.}))
rc=0
out="$(SYSTEMD_COLORS=0 systemd-analyze security --offline=true --root="$root" --no-pager \
    --threshold="$max_tenths" llmsd.service 2>&1)" || rc=$?

line="$(grep 'Overall exposure level for' <<<"$out" || true)"
if [[ -z "$line" ]]; then
    echo "$out" >&2
    echo "unit-check: FAIL: systemd-analyze gave no exposure level for $unit (exit $rc)" >&2
    exit 1
fi
score="$(sed -E 's/.*llmsd\.service: ([0-9]+\.[0-9]).*/\1/' <<<"$line")"
tenths=$((10#${score%.*} * 10 + 10#${score#*.}))

# Parse warnings name the copied file: "PATH:LINE: Unknown key ..., ignoring."
warnings="$(grep -F "$root/etc/systemd/system/llmsd.service:" <<<"$out" |
    sed "s|$root/etc/systemd/system/llmsd.service|$unit|" || true)"

status=0
if [[ $rc -ne 0 || $tenths -gt $max_tenths ]]; then
    echo "$out" | grep -E '^✗' >&2 || true
    echo "unit-check: FAIL: $unit: exposure $score is above $MAX_EXPOSURE" >&2
    status=1
fi
if [[ -n "$warnings" ]]; then
    echo "$warnings" >&2
    echo "unit-check: FAIL: $unit: systemd ignores the lines above" >&2
    status=1
fi
echo "unit-check: ${line#→ }" >&2
[[ $status -ne 0 ]] || echo "unit-check: ok ($score <= $MAX_EXPOSURE)" >&2
exit "$status"
