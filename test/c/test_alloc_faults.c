/* Out of memory on the device's heap paths: a module's boot (fota.boot, the
 * binding and the core exactly as a device runs them) applying a staged
 * package (core delta, version 5, + script; signed) with each C heap
 * allocation of that boot failed in turn -- the trusted key's PEM buffer,
 * the package reader, the delta applier, the script inflater, the copy
 * and hash buffers. Each must end in a clean error or a boot that simply
 * went on: never "bricked", never the staged package dropped as refused,
 * the record on the old pair or the new one, and the next boot (memory
 * back) ends on the new pair. Under the sanitizer build nothing leaks.
 *
 * The allocations are counted by linking with --wrap=malloc/calloc: every
 * call from the core and the binding goes through __wrap_* below; Lua's
 * own allocator and the shared libraries (Mbed TLS, zlib) are not
 * counted. The port's file handles are (an open short of memory must not
 * read as a missing file: the boot record's older copy would roll the
 * upgrade back, a missing key or package would lose the staged one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/fota_err.h"
#include "core/pkg.h"
#include "core/sig.h"
#include "ctest_util.h"
#include "host/archive_pack.h"
#include "host/delta_file.h"
#include "host/pkg_build.h"
#include "port/port.h"

int luaopen_fota(lua_State *L);

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

/* Counting: allocations seen since counting began; the one numbered
 * fail_at (0 the first) returns NULL. */
static int counting;
static long allocs, fail_at = -1;

static int fail_now(void)
{
    return counting && allocs++ == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

static char dir[300];

static const char *at(const char *name)
{
    static char buf[4][600];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* The two releases: V1103 + 1.0.1 on the device, and a package of V1104
 * (a core delta) + 1.0.2 signed by the device's key. */
static void make_releases(char *pub, size_t pub_cap)
{
    static uint8_t old_img[48 * 1024], new_img[50 * 1024];
    char priv[1024];
    uint8_t new_sha[32], old_sha[32];

    CHECK_EQ(fota_sig_keygen(priv, sizeof priv, pub, pub_cap), 0);
    ctest_fill(old_img, sizeof old_img, 7);
    /* the next build: a part changed, a part inserted, the rest moved */
    memcpy(new_img, old_img, 20000);
    ctest_fill(new_img + 20000, 2048, 8);
    memcpy(new_img + 22048, old_img + 20000, sizeof old_img - 20000);
    new_img[40000] ^= 0x5a;
    ctest_write_file(at("old.bin"), old_img, sizeof old_img);
    ctest_write_file(at("new.bin"), new_img, sizeof new_img);
    ctest_sha256(old_img, sizeof old_img, old_sha);
    ctest_sha256(new_img, sizeof new_img, new_sha);
    fota_delta_options dopt = {0};
    dopt.version = 5;
    CHECK_EQ(fota_delta_create_file(at("old.bin"), at("new.bin"), at("core.lfdl"), &dopt, NULL), 0);

    const char *m1 = "print('main 1.0.1')\n", *m2 = "print('main 1.0.2')\n";
    ctest_write_file(at("main1.lua"), m1, strlen(m1));
    ctest_write_file(at("main2.lua"), m2, strlen(m2));
    const char *names[] = {"main.lua"};
    CHECK_EQ(fota_arc_pack(names, (const char *const[]){at("main1.lua")}, 1, at("s1.lfsa")), 0);
    CHECK_EQ(fota_arc_pack(names, (const char *const[]){at("main2.lua")}, 1, at("s2.lfsa")), 0);

    fota_pkg_build_opts o;
    memset(&o, 0, sizeof o);
    o.project = "demo";
    o.bsp = "EC618";
    o.core_type = FOTA_PKG_SEC_CORE_DELTA;
    o.core_path = at("core.lfdl");
    o.from_core_version = 1103;
    o.base_sha256 = old_sha;
    o.core_image_len = sizeof new_img;
    o.core_image_sha256 = new_sha;
    o.script_archive_path = at("s2.lfsa");
    o.release_core_version = 1104;
    o.release_script_version = "1.0.2";
    o.sign_key_pem = priv;
    CHECK_EQ(fota_pkg_build(&o, at("update.fota"), NULL), 0);
}

static int run_lua(lua_State *L, const char *chunk)
{
    if (luaL_dostring(L, chunk) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* A device flashed with release 1 that trusts the key (provisioned, and
 * the key file a module keeps), the package staged as a LuatOS script
 * stages it (fota.init, fota.run, fota.finish(true)); then one boot with
 * allocation fail_at failed. Returns the allocations that boot made. */
static long boot_with_fault(lua_State *L, long fail, char *outcome, size_t cap)
{
    char chunk[2048];
    snprintf(outcome, cap, "?");
    snprintf(chunk, sizeof chunk,
             "local d = '%s/dev'\n"
             "os.execute('rm -rf ' .. d)\n"
             "fota.device(d)\n"
             "assert(fota.flash{core = 'V1103', core_image = '%s/old.bin', script = '%s/s1.lfsa', version = '1.0.1'})\n"
             "assert(fota.provision_key(PUB))\n"
             "os.execute('mkdir -p ' .. d .. '/fota')\n"
             "local f = assert(io.open(d .. '/fota/trusted.pem', 'wb')) f:write(PUB) f:close()\n"
             "f = assert(io.open('%s/update.fota', 'rb')) local pkg = f:read('a') f:close()\n"
             "assert(fota.init()) assert(fota.run(pkg)) assert(fota.isDone()) assert(fota.finish(true))\n",
             dir, dir, dir, dir);
    if (!run_lua(L, chunk)) return -1;
    allocs = 0;
    fail_at = fail;
    counting = 1;
    int ok = run_lua(L, "BOOT = table.pack(fota.boot())");
    counting = 0;
    if (!ok) return -1;
    /* what the boot said, and where the device stands */
    ok = run_lua(L, "local st, err = BOOT[1], BOOT[2]\n"
                    "local rec = assert(fota.state())\n"
                    "OUT = (st and ('state ' .. st.running.core .. ' ' .. st.running.version .. ' ' ..\n"
                    "  tostring(st.applied_staged)) or ('nil ' .. tostring(err))) ..\n"
                    "  ' | record ' .. rec.running.core .. ' ' .. rec.running.version\n");
    lua_getglobal(L, "OUT");
    snprintf(outcome, cap, "%s", ok && lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    return allocs;
}

int main(void)
{
    char pub[1024], outcome[300], chunk[400];
    snprintf(dir, sizeof dir, "%s", ctest_tmpdir("test_alloc_faults"));
    make_releases(pub, sizeof pub);

    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "fota", luaopen_fota, 1);
    lua_pop(L, 1);
    lua_pushstring(L, pub);
    lua_setglobal(L, "PUB");

    /* with memory: the package is applied, the new pair on trial */
    long total = boot_with_fault(L, -1, outcome, sizeof outcome);
    printf("no fault: %ld allocations: %s\n", total, outcome);
    CHECK(strcmp(outcome, "state V1104 1.0.2 ok | record V1104 1.0.2") == 0);
    CHECK(total >= 8);   /* PEM, reader, applier, inflater, copy and hash buffers */

    for (long k = 0; k < total; k++) {
        long n = boot_with_fault(L, k, outcome, sizeof outcome);
        printf("allocation %ld failed: %s\n", k, outcome);
        CHECK(n > k);
        /* a clean outcome: the package applied anyway (an allocation
         * whose failure only costs a later retry), the old pair with the
         * package kept for the next boot, or the boot's own "out of
         * memory" with the record untouched (old or new pair) */
        CHECK(strcmp(outcome, "state V1104 1.0.2 ok | record V1104 1.0.2") == 0 ||
              strcmp(outcome, "state V1103 1.0.1 nomem | record V1103 1.0.1") == 0 ||
              strcmp(outcome, "nil out of memory | record V1103 1.0.1") == 0 ||
              strcmp(outcome, "nil out of memory | record V1104 1.0.2") == 0);
        /* memory back: the next boot ends on the new pair, on trial */
        CHECK(run_lua(L, "local st = assert(fota.boot())\n"
                         "assert(st.running.core == 'V1104' and st.running.version == '1.0.2' and st.trying,\n"
                         "  st.running.core .. ' ' .. st.running.version)"));
    }
    snprintf(chunk, sizeof chunk, "os.execute('rm -rf %s')", dir);
    run_lua(L, chunk);
    lua_close(L);
    return ctest_finish("test_alloc_faults");
}
