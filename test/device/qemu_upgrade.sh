#!/usr/bin/env bash
# The upgrade on the target: the mps2-an385 image (scripts/device-image) in
# qemu-system-arm, its flash a host file (semihosting). A factory-new
# device runs release V1103 + 1.0.1, whose main.lua reads the next release
# (core delta, version 5, + script 1.0.2, signed; made now with the host's
# fotapack) from the host over the board's UART1 and feeds it through
# fota.init, fota.run in 1 KiB chunks, fota.isDone,
# fota.finish(true), then rtos.reboot(); the boot applies the delta into
# core slot B, commits, starts the new image ("build 2"), whose main.lua
# prints V1104 and 1.0.2 and confirms. Then power cuts: from the flash as
# it stood at that reboot, QEMU stops at chosen flash operations of the
# apply (cleanly before one, or with it torn in half), and the next boot
# must end on the old pair (V1103, build 1, 1.0.1) or the new one (V1104,
# build 2, 1.0.2), never an error. Last, a release that never confirms is
# rolled back after its tries. Every QEMU run has a timeout. The boot's
# apply must take at most 8 KiB of stack.
#   [QEMU_CUTS=all] qemu_upgrade.sh IMAGE_DIR HOST_BUILD_DIR
set -euo pipefail
IMG=$(realpath "$1") HOST=$(realpath "$2")
W=$(mktemp -d /tmp/qemu-upgrade.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
fail() { echo "qemu_upgrade: FAIL: $*"; exit 1; }

# What the host sends on the board's UART1: update.fota's size (4 bytes,
# big-endian; 0 when there is none), then the package.
feed() {
    local n=0
    [ -f update.fota ] && n=$(stat -c %s update.fota)
    printf "$(printf '\\%03o' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
    [ -f update.fota ] && cat update.fota
    return 0
}

qemu() { # qemu LOG [semihosting args] -- runs the factory ELF, at most 60 s:
          # UART0 (the log) and QEMU's own output appended to LOG, the feed
          # on UART1 (QEMU's stdin)
    local log=$1; shift
    feed >feed.bin
    : >"$log"
    timeout 60 qemu-system-arm -M mps2-an385 -display none -monitor none \
        -chardev file,id=log,path="$log",append=on -serial chardev:log -serial stdio \
        -semihosting-config enable=on,target=native"${1:+,arg=$1}" ${NOREBOOT:+-no-reboot} \
        -kernel "$IMG/fota-mps2-1.elf" >>"$log" 2>&1 <feed.bin || true
}

# the two releases' scripts, as LuatOS projects
mkdir s1 s2
cat >s1/main.lua <<'LUA'
-- 1.0.1: fetches the next release (from the host here; from the network
-- on a module) and stages it as a LuatOS script does
PROJECT = "mps2demo"
VERSION = "1.0.1"
local st = fota.state()
print("main: core " .. st.running.core .. " VERSION " .. VERSION .. " build " .. BUILD)
if st.last_result == "rolled_back" then return end
-- the host's feed on UART1: the package's size (4 bytes, big-endian; 0:
-- none), then the package
local head = board.uartread(4, 1000)
local size = #head == 4 and string.unpack(">I4", head) or 0
if size == 0 then return end
assert(fota.init())
local off = 0
while off < size do
    local chunk = board.uartread(math.min(1024, size - off), 1000)
    assert(#chunk > 0, "the UART feed stopped after " .. off .. " bytes")
    local ok, done, cache, err = fota.run(chunk)
    if not ok then error("fota.run: " .. tostring(err or cache)) end
    off = off + #chunk
end
local ok, done, err = fota.isDone()
print(("main: %d bytes fed, isDone %s %s"):format(off, tostring(ok), tostring(done)))
assert(ok and done, err)
assert(fota.finish(true))
print("main: rtos.reboot()")
rtos.reboot()
LUA
cat >s2/main.lua <<'LUA'
PROJECT = "mps2demo"
VERSION = "1.0.2"
print("main: core " .. fota.state().running.core .. " VERSION " .. VERSION .. " build " .. BUILD)
assert(fota.confirm())
local s = board.stats()
print(("main: heap high-water %d B, deepest stack %d B"):format(s.heap, s.stack))
LUA
LUA_CPATH="$HOST/?.so" lua5.3 -e 'assert(require("fota").pack("s1", "factory-script.lfsa"))'
cp "$IMG/fota-mps2-1.bin" factory-core.bin
echo "V1103 1.0.1" >factory.txt
"$HOST/fotapack" keygen -o key.pem --pub factory-trusted.pem >/dev/null
"$HOST/fotapack" build --project mps2demo --bsp MPS2 --core-version V1104 --version 1.0.2 \
    --to-core "$IMG/fota-mps2-2.bin" --from-core factory-core.bin --from-core-version V1103 \
    --delta-format 5 --script s2 --key key.pem -o update.fota >/dev/null

# 1. the upgrade, in one QEMU run (the reboot is the guest's own reset)
qemu up.log
sed 's/^/  | /' up.log
for want in "boot: factory flashed V1103 1.0.1" "main: core V1103 VERSION 1.0.1 build 1" \
        "isDone true true" "main: rtos.reboot()" "applied_staged=ok" "boot: starting core slot b (V1104" \
        "luat-fota image build 2" "main: core V1104 VERSION 1.0.2 build 2"; do
    grep -qF "$want" up.log || fail "no '$want'"
done
grep -qE "^error|hard fault" up.log && fail "an error on the target"
# the boot's apply runs in a few KiB of stack (docs/device-port.md, 6.4 KiB
# on this build): a large buffer put back on the stack shows here
st=$(sed -n 's/.*boot: apply .* deepest stack \([0-9]*\) B.*/\1/p' up.log)
[ -n "$st" ] && [ "$st" -le 8192 ] || fail "the boot's apply took ${st:-?} B of stack (at most 8192)"

# 2. power cuts during the apply: the flash as the reboot left it
rm -f flash.img
NOREBOOT=1 qemu stage.log
grep -qF "main: rtos.reboot()" stage.log || fail "staging run: $(tail -2 stage.log)"
cp flash.img staged.img
qemu apply.log
ops=$(sed -n 's/.*applied_staged=ok.*(\([0-9]*\) flash ops).*/\1/p' apply.log)
[ -n "$ops" ] && [ "$ops" -gt 10 ] || fail "apply run: $(tail -3 apply.log)"
echo "qemu_upgrade: the apply takes $ops flash operations; cutting at some of them"
mv update.fota update.fota.off   # after a cut, 1.0.1 must not fetch the release again
n=0 old=0 new=0
points="1 3 $((ops / 3)) $((ops * 2 / 3)) $((ops - 2)) $((ops - 1)) $ops"
[ "${QEMU_CUTS:-}" = all ] && points=$(seq 1 "$ops")   # every operation: minutes, by hand
for at in $points; do
    for mode in "" ":torn"; do
        cp staged.img flash.img
        NOREBOOT=1 qemu cut.log "cut=$at$mode"
        grep -qF "[power cut]" cut.log || fail "cut=$at$mode: no cut ($(tail -1 cut.log))"
        qemu after.log
        if grep -qF "main: core V1104 VERSION 1.0.2 build 2" after.log; then
            new=$((new + 1))
        elif grep -qF "main: core V1103 VERSION 1.0.1 build 1" after.log; then
            old=$((old + 1))
        else
            sed 's/^/  | /' cut.log after.log; fail "cut=$at$mode: neither image"
        fi
        grep -qE "^error|hard fault" after.log && { sed 's/^/  | /' after.log; fail "cut=$at$mode: an error"; }
        n=$((n + 1))
    done
done
# and one cut while the script stages the package (before its ready
# marker): the package is incomplete, the device stays on the old pair
mv update.fota.off update.fota
rm -f flash.img
f=$(sed -n 's/^boot: core V1103 .*(\([0-9]*\) flash ops).*/\1/p' stage.log | head -1)
NOREBOOT=1 qemu cut.log "cut=$((f + 3))"
grep -qF "[power cut]" cut.log && ! grep -qF "rtos.reboot()" cut.log || fail "no cut while staging"
mv update.fota update.fota.off
qemu after.log
grep -qF "main: core V1103 VERSION 1.0.1 build 1" after.log || { sed 's/^/  | /' after.log; fail "cut while staging"; }
old=$((old + 1)) n=$((n + 1))
mv update.fota.off update.fota
echo "qemu_upgrade: $n cuts: $old ended on V1103/1.0.1, $new on V1104/1.0.2"
[ "$new" -gt 0 ] || fail "no cut ended on the new image (a staged package must survive)"
# 3. a release that never confirms: each boot counts down its tries, then
# the boot rolls back to V1103/1.0.1 (build 1 runs again)
mkdir s3
cat >s3/main.lua <<'LUA'
PROJECT = "mps2demo"
VERSION = "1.0.3"
local st = fota.state()
print("main: core " .. st.running.core .. " VERSION " .. VERSION .. " build " .. BUILD .. " tries left " ..
      st.tries_left .. ", no confirm, rtos.reboot()")
rtos.reboot()
LUA
"$HOST/fotapack" build --project mps2demo --bsp MPS2 --core-version V1104 --version 1.0.3 \
    --to-core "$IMG/fota-mps2-2.bin" --from-core factory-core.bin --from-core-version V1103 \
    --delta-format 5 --script s3 --key key.pem -o update.fota >/dev/null
rm -f flash.img
qemu rb.log
sed 's/^/  | /' rb.log | grep -E "boot: core|main:"
[ "$(grep -c "VERSION 1.0.3 build 2" rb.log)" -eq 3 ] || fail "the unconfirmed release did not run its 3 tries"
tail -2 rb.log | grep -qF "main: core V1103 VERSION 1.0.1 build 1" || fail "no rollback to V1103/1.0.1"
grep -qF "last_result=rolled_back" rb.log || fail "the boot did not say rolled_back"
echo "qemu_upgrade: ok"
