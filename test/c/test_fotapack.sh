#!/bin/sh
# CLI round trip for fotapack: keygen, build, inspect, verify, and the
# failures a user meets. Usage: test_fotapack.sh path/to/fotapack
# Runs in the current directory (ctest: the build dir); bounded by ctest's
# TIMEOUT and by small inputs.
set -u
FP=${1:?usage: test_fotapack.sh path/to/fotapack}
T=ctest_tmp/test_fotapack
rm -rf "$T"
mkdir -p "$T/scripts/lib" "$T/badscripts"
checks=0
fails=0

fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# expect CODE cmd...: runs cmd, output kept in $T/out and $T/err.
expect() {
    want=$1
    shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (want $want): $*"
        cat "$T/out" "$T/err"
    fi
}

# saw TEXT: the last command printed TEXT (stdout or stderr).
saw() {
    checks=$((checks + 1))
    if ! grep -q -- "$1" "$T/out" "$T/err"; then
        fail "output lacks '$1'"
        cat "$T/out" "$T/err"
    fi
}

# poke FILE OFFSET OCTAL: overwrite one byte.
poke() {
    printf "\\$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

printf 'print("main")\n' >"$T/scripts/main.lua"
printf 'return {}\n' >"$T/scripts/lib/util.lua"
printf 'ignored\n' >"$T/scripts/.hidden"
printf 'x\n' >"$T/badscripts/a b.lua"
head -c 100000 /dev/zero >"$T/core.bin"
head -c 600000 /dev/urandom >"$T/huge.bin"
B="--project demo --bsp EC618"

# help and usage
expect 0 "$FP" --help
saw "Exit codes"
for c in build inspect verify keygen delta patch; do
    expect 0 "$FP" $c --help
    saw "Exit"
done
expect 2 "$FP"
expect 2 "$FP" frobnicate
expect 2 "$FP" build $B -o "$T/x.fota"
saw "need --to-core"
expect 2 "$FP" build $B --script "$T/scripts" --version 1.0 -o "$T/x.fota"
expect 2 "$FP" build $B --to-core "$T/core.bin" -o "$T/x.fota"
saw "core-version"
expect 2 "$FP" build $B --from-core "$T/core.bin" --to-core "$T/core.bin" --core-version V1104 -o "$T/x.fota"
saw "go together"
expect 2 "$FP" build $B --from-core "$T/core.bin" --from-core-version V1103 --script "$T/scripts" \
    --version 1.0.0 -o "$T/x.fota"
saw "needs --to-core"
expect 2 "$FP" build $B --script "$T/badscripts" --version 1.0.0 --core-version V1103 -o "$T/x.fota"
saw "not allowed"
expect 2 "$FP" build $B --bogus x

# keys
expect 0 "$FP" keygen -o "$T/key.pem" --pub "$T/pub.pem"
checks=$((checks + 1))
[ "$(stat -c %a "$T/key.pem")" = 600 ] || fail "private key mode $(stat -c %a "$T/key.pem")"
expect 2 "$FP" keygen -o "$T/key.pem"
saw "exists"
expect 0 "$FP" keygen -o "$T/key2.pem" --pub "$T/pub2.pem"

# build -> inspect -> verify
expect 0 "$FP" build $B --to-core "$T/core.bin" --core-version V1104 --script "$T/scripts" \
    --version 1.0.2 --key "$T/key.pem" -o "$T/full.fota"
saw "signed"
expect 0 "$FP" inspect "$T/full.fota"
saw "core_full"
saw "script version:  1.0.2"
saw "integrity:       ok"
expect 0 "$FP" inspect "$T/full.fota" --json
saw '"integrity":"ok"'
saw '"firmware":"demo_LuatOS-SoC_EC618"'
if command -v python3 >/dev/null 2>&1; then
    checks=$((checks + 1))
    python3 -m json.tool "$T/out" >/dev/null || fail "inspect --json is not JSON"
fi
expect 0 "$FP" verify "$T/full.fota" --pubkey "$T/pub.pem"
saw "signature verified"
expect 0 "$FP" verify "$T/full.fota"
expect 1 "$FP" verify "$T/full.fota" --pubkey "$T/pub2.pem"
saw "FAIL: bad_signature"
expect 0 "$FP" verify "$T/full.fota" --base "$T/core.bin" --core-version V1103 --script-version 1.0.1

# single-part packages; a single script file
expect 0 "$FP" build $B --script "$T/scripts/main.lua" --version 2.0.0 --core-version V1103 -o "$T/script.fota"
expect 0 "$FP" inspect "$T/script.fota" --json
saw '"to_core_version":0'
saw '"runs_on":\[1103\]'
expect 0 "$FP" build $B --to-core "$T/core.bin" --core-version 1104 --version 1.0.1 -o "$T/core.fota"
expect 1 "$FP" verify "$T/core.fota" --pubkey "$T/pub.pem"
saw "FAIL: no_signature"

# releases bind core and script: a half runs only next to a half it names
expect 2 "$FP" build $B --script "$T/scripts" --version 2.0.0 -o "$T/x.fota"
saw "the release"
expect 1 "$FP" verify "$T/script.fota" --core-version V1104 --script-version 1.0.1
saw "FAIL: wrong_pair"
expect 0 "$FP" verify "$T/script.fota" --core-version V1103 --script-version 1.0.1
expect 0 "$FP" build $B --script "$T/scripts" --version 2.0.0 --core-version V1104 --runs-on V1104,1103 \
    -o "$T/script2.fota"
expect 0 "$FP" inspect "$T/script2.fota"
saw "runs on core:    V1103"
saw "runs on core:    V1104"
expect 0 "$FP" verify "$T/script2.fota" --core-version V1103 --script-version 1.0.1
expect 1 "$FP" verify "$T/script2.fota" --core-version V1102 --script-version 1.0.1
saw "FAIL: wrong_pair"
expect 1 "$FP" verify "$T/core.fota" --core-version V1103 --script-version 1.0.3
saw "FAIL: wrong_pair"
expect 0 "$FP" verify "$T/core.fota" --core-version V1103 --script-version 1.0.1
expect 2 "$FP" build $B --to-core "$T/core.bin" --core-version 1104 --version 1.0.1 --runs-on 1.0,1.0.1 \
    -o "$T/x.fota"
saw "runs-on"
expect 2 "$FP" build $B --to-core "$T/core.bin" --core-version 1104 --version 1.0.1 --runs-on 1.0.1,1.0.1 \
    -o "$T/x.fota"
expect 2 "$FP" build $B --to-core "$T/core.bin" --core-version 1104 --version 1.0.2 --script "$T/scripts" \
    --runs-on 1.0.1 -o "$T/x.fota"
saw "one half only"
# the running release again: refused unless built as a reinstall
expect 1 "$FP" verify "$T/full.fota" --core-version V1104 --script-version 1.0.2
saw "FAIL: same_release"
expect 0 "$FP" build $B --to-core "$T/core.bin" --core-version V1104 --script "$T/scripts" \
    --version 1.0.2 --reinstall -o "$T/again.fota"
expect 0 "$FP" verify "$T/again.fota" --core-version V1104 --script-version 1.0.2
expect 0 "$FP" inspect "$T/again.fota" --json
saw '"reinstall":true'

# rollback
expect 1 "$FP" verify "$T/full.fota" --script-version 1.0.3
saw "FAIL: rollback"
expect 0 "$FP" verify "$T/full.fota" --script-version 1.0.3 --allow-rollback
expect 1 "$FP" verify "$T/full.fota" --core-version V1105
saw "FAIL: rollback"

# size limit
expect 1 "$FP" build $B --to-core "$T/huge.bin" --core-version 1104 --version 1.0.1 -o "$T/huge.fota"
saw "bytes over the limit of 491520"
checks=$((checks + 1))
[ ! -e "$T/huge.fota" ] || fail "oversize package left behind"
expect 0 "$FP" build $B --to-core "$T/huge.bin" --core-version 1104 --version 1.0.1 --max-size 700000 -o "$T/huge.fota"
expect 1 "$FP" verify "$T/huge.fota"
saw "FAIL: too_large"
expect 0 "$FP" verify "$T/huge.fota" --max-size 700000
expect 1 "$FP" build $B --script "$T/scripts" --version 1.0.0 --core-version 1104 --max-size 200 -o "$T/x.fota"
saw "over the limit of 200"

# damaged files
cp "$T/full.fota" "$T/d.fota"
poke "$T/d.fota" 5000 377
expect 1 "$FP" verify "$T/d.fota"
saw "FAIL: hash_mismatch"
expect 1 "$FP" inspect "$T/d.fota"
saw "hash_mismatch"
head -c 3000 "$T/full.fota" >"$T/d.fota"
expect 1 "$FP" verify "$T/d.fota"
saw "FAIL: truncated"
cp "$T/full.fota" "$T/d.fota"
poke "$T/d.fota" 0 130
expect 1 "$FP" verify "$T/d.fota"
saw "FAIL: bad_magic"
cp "$T/full.fota" "$T/d.fota"
poke "$T/d.fota" 4 003
expect 1 "$FP" verify "$T/d.fota"
saw "FAIL: bad_version"
poke "$T/d.fota" 4 001
expect 1 "$FP" verify "$T/d.fota"
saw "FAIL: bad_version"
expect 1 "$FP" inspect "$T/d.fota" --json
saw '"error":"bad_version"'
expect 1 "$FP" verify "$T/missing.fota"
saw "FAIL: io"
expect 3 "$FP" verify "$T/full.fota" --pubkey "$T/missing.pem"
expect 2 "$FP" verify "$T/full.fota" --pubkey "$T/scripts/main.lua"

# core deltas: delta/patch round trip, then a delta package built, inspected
# and verified against the right and a wrong base core
head -c 400000 /dev/urandom >"$T/old.bin"
{ head -c 150000 "$T/old.bin"; head -c 3000 /dev/urandom; tail -c +150001 "$T/old.bin"; } >"$T/new.bin"
expect 0 "$FP" delta "$T/old.bin" "$T/new.bin" "$T/d.lfdl"
saw "bytes"
expect 0 "$FP" patch "$T/old.bin" "$T/d.lfdl" "$T/new2.bin"
checks=$((checks + 1))
cmp -s "$T/new.bin" "$T/new2.bin" || fail "patch result differs"
expect 1 "$FP" patch "$T/core.bin" "$T/d.lfdl" "$T/new3.bin"
saw "FAIL: wrong_base"
checks=$((checks + 1))
[ ! -e "$T/new3.bin" ] || fail "refused patch left a file"
expect 2 "$FP" delta "$T/old.bin"
expect 3 "$FP" delta "$T/missing.bin" "$T/new.bin" "$T/x.lfdl"
expect 0 "$FP" build $B --from-core "$T/old.bin" --from-core-version V1103 --to-core "$T/new.bin" \
    --core-version V1104 --version 1.0.1 --key "$T/key.pem" -o "$T/delta.fota"
checks=$((checks + 1))
[ "$(wc -c <"$T/delta.fota")" -lt 20000 ] || fail "delta package is not small: $(wc -c <"$T/delta.fota")"
checks=$((checks + 1))
[ ! -e "$T/delta.fota.delta.tmp" ] || fail "temporary delta left behind"
expect 0 "$FP" inspect "$T/delta.fota"
saw "core_delta"
saw "from core:       V1103"
saw "decoded 403000"
expect 0 "$FP" verify "$T/delta.fota" --pubkey "$T/pub.pem" --base "$T/old.bin" --core-version V1103
expect 1 "$FP" verify "$T/delta.fota" --base "$T/new.bin"
saw "FAIL: wrong_base"
# --delta-format: the delta version a version-5-only device takes
delta_version() { # the version byte after the package's "LFDL" magic
    off=$(grep -obUa LFDL "$1" | head -1 | cut -d: -f1)
    dd if="$1" bs=1 skip=$((off + 4)) count=1 2>/dev/null | od -An -tu1 | tr -d ' '
}
for v in 3 5; do
    expect 0 "$FP" build $B --from-core "$T/old.bin" --from-core-version V1103 --to-core "$T/new.bin" \
        --core-version V1104 --version 1.0.1 --delta-format $v -o "$T/delta$v.fota"
    checks=$((checks + 1))
    [ "$(delta_version "$T/delta$v.fota")" = $v ] || fail "--delta-format $v: version $(delta_version "$T/delta$v.fota")"
    expect 0 "$FP" verify "$T/delta$v.fota" --base "$T/old.bin" --core-version V1103
done
expect 2 "$FP" build $B --from-core "$T/old.bin" --from-core-version V1103 --to-core "$T/new.bin" \
    --core-version V1104 --version 1.0.1 --delta-format 6 -o "$T/x.fota"
saw "--delta-format must be 3, 4 or 5, with --from-core"
expect 2 "$FP" build $B --to-core "$T/new.bin" --core-version V1104 --version 1.0.1 --delta-format 5 -o "$T/x.fota"
saw "--delta-format must be 3, 4 or 5, with --from-core"
expect 1 "$FP" verify "$T/delta.fota" --core-version V1102
saw "FAIL: wrong_base"

echo "test_fotapack: $checks checks, $fails failed"
[ "$fails" = 0 ]
