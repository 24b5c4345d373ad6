#!/bin/sh
# Runs every test binary given, one line each, then a total that CI reads:
# "N passed, N failed". A binary's own cmocka output is kept in its log and
# shown when it fails. Tests run from the repository root.
pass=0; fail=0; failed=""
logdir=$(mktemp -d "${TMPDIR:-/tmp}/netsynth-test-logs.XXXXXX")
for t in "$@"; do
    name=$(basename "$t")
    start=$(date +%s)
    if "$t" >"$logdir/$name.log" 2>&1; then
        pass=$((pass + 1)); status=ok
    else
        fail=$((fail + 1)); status=FAIL; failed="$failed $name"
    fi
    tests=$(grep -c '^\[       OK \]' "$logdir/$name.log")
    skips=$(grep -c '^\[  SKIPPED \]' "$logdir/$name.log")
    printf '%-28s %-4s %3s cases ok, %s skipped (%ss)\n' "$name" "$status" "$tests" "$skips" $(( $(date +%s) - start ))
    grep '^SKIP ' "$logdir/$name.log" | sed 's/^/    /'
    [ "$status" = FAIL ] && sed 's/^/    | /' "$logdir/$name.log" | tail -n 40
done
[ "$fail" -eq 0 ] && rm -rf "$logdir"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
