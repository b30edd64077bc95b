/* The mps2-an385 image's main: boots like a module. Lua 5.3 with the fota
 * module (and rtos, board); the boot chunk reads the boot record, rolls
 * back or applies a staged package (fota.boot), then runs main.lua of the
 * active script slot. A never-flashed device is first flashed from the
 * factory files the host gives (semihosting). rtos.reboot() resets the
 * core (SYSRESETREQ); QEMU reloads the image and the flash file stays.
 * The semihosting command line may hold "cut=N" or "cut=N:torn": the power
 * goes at the Nth flash operation of this boot (flash_qemu.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <mbedtls/sha256.h>

#include "core/archive.h"
#include "core/delta.h"
#include "core/fota_err.h"
#include "core/slots.h"
#include "lua/lzbuff.h"
#include "device_mps2.h"
#include "port/mps2/flash_qemu.h"
#include "port/mps2/nor_flash.h"
#include "port/mps2/port_mps2.h"
#include "port/mps2/semihost.h"
#include "port/port.h"

#ifndef DEVICE_BUILD
#define DEVICE_BUILD "1"
#endif
#define HOST_CHUNK 4096

/* The version-5-only applier's state on this target stays within 16 KiB
 * (docs/device-port.md; bench/device prints its parts). */
_Static_assert(sizeof(fota_delta_applier) <= 16 * 1024, "the delta applier's state is above 16 KiB");
#define MAIN_MAX (64u * 1024u)   /* the most main.lua may take in RAM */

int luaopen_fota(lua_State *L);

/* This image has no zbuff module (LuatOS's firmware brings its own): the
 * binding's fota.run takes strings here, and no value is a zbuff. */
int lfota_zbuff_bytes(lua_State *L, int idx, const uint8_t **p, size_t *used, size_t *cap)
{
    (void)L;
    (void)idx;
    *p = NULL;
    *used = *cap = 0;
    return 0;
}

/* board.hostsize(name) -> bytes | nil: a file of the host (semihosting). */
static int l_hostsize(lua_State *L)
{
    int fd = semi_open(luaL_checkstring(L, 1), SEMI_R_B);
    long n;
    if (fd < 0)
        return 0;
    n = semi_flen(fd);
    semi_close(fd);
    if (n < 0)
        return 0;
    lua_pushinteger(L, n);
    return 1;
}

/* board.hostread(name, off, n) -> string (short at the end) | nil, err */
static int l_hostread(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_Integer off = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
    luaL_Buffer b;
    size_t got = 0;
    int fd;
    luaL_argcheck(L, off >= 0 && off < 0x7fffffff, 2, "offset out of range");
    luaL_argcheck(L, n >= 0 && n <= HOST_CHUNK, 3, "1..4096 bytes at a time");
    if ((fd = semi_open(name, SEMI_R_B)) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: cannot open", name);
        return 2;
    }
    char *p = luaL_buffinitsize(L, &b, (size_t)n);
    if (semi_seek(fd, (long)off) != 0 || semi_read(fd, p, (size_t)n, &got) != 0) {
        semi_close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: read failed", name);
        return 2;
    }
    semi_close(fd);
    luaL_pushresultsize(&b, got);
    return 1;
}

/* board.uartread(n, timeout_ms) -> string: up to n bytes (1..4096) from
 * UART1, the host's serial feed; fewer when none came for timeout_ms. */
static int l_uartread(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1), ms = luaL_checkinteger(L, 2);
    luaL_Buffer b;
    luaL_argcheck(L, n >= 1 && n <= HOST_CHUNK, 1, "1..4096 bytes at a time");
    luaL_argcheck(L, ms >= 0 && ms <= 600000, 2, "0..600000 ms");
    char *p = luaL_buffinitsize(L, &b, (size_t)n);
    luaL_pushresultsize(&b, fota_mps2_uart1_read((uint8_t *)p, (size_t)n, (uint32_t)ms));
    return 1;
}

/* board.hostcopy(name, path) -> true | nil, err: a host file into a device
 * file (the factory's flashing). */
static int l_hostcopy(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    static uint8_t buf[HOST_CHUNK];
    fota_port_file *f;
    uint64_t off = 0;
    size_t got;
    int fd, rc;
    if ((fd = semi_open(name, SEMI_R_B)) < 0)
        return luaL_error(L, "%s: cannot open", name);
    if ((rc = fota_port_open(&f, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK) {
        semi_close(fd);
        return luaL_error(L, "%s: %s", path, fota_strerror(rc));
    }
    do {
        if (semi_read(fd, buf, sizeof buf, &got) != 0) {
            rc = FOTA_ERR_IO;
            break;
        }
        if (got && (rc = fota_port_pwrite(f, off, buf, got)) != FOTA_OK)
            break;
        off += got;
    } while (got == sizeof buf);
    if (rc == FOTA_OK)
        rc = fota_port_sync(f);
    fota_port_close(f);
    semi_close(fd);
    if (rc != FOTA_OK)
        return luaL_error(L, "%s: %s", path, fota_strerror(rc));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_remove(lua_State *L)
{
    int rc = fota_port_remove(luaL_checkstring(L, 1));
    if (rc != FOTA_OK)
        return luaL_error(L, "%s", fota_strerror(rc));
    return 0;
}

/* One file of a script archive, gathered in RAM. */
typedef struct {
    const char *want;
    int hit, done;
    char *buf;
    size_t len, cap;
} pick;

static int pick_begin(void *ud, const char *name, uint32_t size)
{
    pick *p = ud;
    p->hit = strcmp(name, p->want) == 0;
    if (!p->hit)
        return 0;
    if (size > MAIN_MAX || !(p->buf = malloc(size ? size : 1)))
        return FOTA_ERR_NOMEM;
    p->len = 0;
    p->cap = size;
    return 0;
}

static int pick_data(void *ud, const uint8_t *d, size_t n)
{
    pick *p = ud;
    if (p->hit) {
        if (n > p->cap - p->len)
            return FOTA_ERR_FORMAT;
        memcpy(p->buf + p->len, d, n);
        p->len += n;
    }
    return 0;
}

static int pick_end(void *ud)
{
    pick *p = ud;
    if (p->hit)
        p->done = 1;
    p->hit = 0;
    return 0;
}

/* board.load(archive, name) -> function: a chunk of the script slot. */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    pick p = { luaL_checkstring(L, 2), 0, 0, NULL, 0, 0 };
    fota_arc_sink sink = { pick_begin, pick_data, pick_end, &p };
    static fota_arc_parser parser;
    static uint8_t buf[1024];
    fota_port_file *f;
    uint64_t off = 0;
    size_t got;
    int rc;
    if ((rc = fota_port_open(&f, path, FOTA_PORT_READ)) != FOTA_OK)
        return luaL_error(L, "%s: %s", path, fota_strerror(rc));
    fota_arc_parser_init(&parser, &sink);
    do {
        if ((rc = fota_port_pread(f, off, buf, sizeof buf, &got)) == FOTA_OK)
            rc = fota_arc_parser_feed(&parser, buf, got);
        off += got;
    } while (rc == FOTA_OK && got > 0);
    fota_port_close(f);
    if (rc == FOTA_OK)
        rc = fota_arc_parser_finish(&parser);
    if (rc != FOTA_OK || !p.done) {
        free(p.buf);
        return luaL_error(L, "%s: no %s (%d)", path, p.want, rc);
    }
    rc = luaL_loadbuffer(L, p.buf, p.len, p.want);
    free(p.buf);
    if (rc != LUA_OK)
        return lua_error(L);
    return 1;
}

/* board.stats() -> {heap=, stack=, flash_ops=, ms=}: the heap's high-water
 * mark and the deepest stack so far (the painted words left), the flash
 * operations and the SysTick clock, for the test and bench/device. */
static int l_stats(lua_State *L)
{
    extern uint32_t _stack_bottom, _estack;
    const uint32_t *w = &_stack_bottom;
    while (w < &_estack && *w == 0x5a5a5a5au)
        w++;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)device_heap_top());
    lua_setfield(L, -2, "heap");
    lua_pushinteger(L, (lua_Integer)((const char *)&_estack - (const char *)w));
    lua_setfield(L, -2, "stack");
    lua_pushinteger(L, (lua_Integer)fota_flash_qemu_ops());
    lua_setfield(L, -2, "flash_ops");
    lua_pushinteger(L, (lua_Integer)fota_port_now_ms());
    lua_setfield(L, -2, "ms");
    return 1;
}

static int l_reboot(lua_State *L)
{
    (void)L;
    fflush(stdout);
    *(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u;   /* AIRCR: SYSRESETREQ */
    for (;;) {
    }
    return 0;
}

/* The boot's word to the image it starts (link.ld's BOOT_HANDOFF): this
 * boot was counted already (fota.boot ran), so the started image must not
 * count it again (a trying pair's boots). Read once and cleared: a reset
 * keeps RAM. */
#define HANDOFF_MAGIC 0x464f5441u   /* "FOTA" */
extern volatile uint32_t BOOT_HANDOFF[2];

/* board.handoff() -> true when the boot that started this image counted it */
static int l_handoff(lua_State *L)
{
    int started = BOOT_HANDOFF[0] == HANDOFF_MAGIC && BOOT_HANDOFF[1] == (uint32_t)~HANDOFF_MAGIC;
    BOOT_HANDOFF[0] = BOOT_HANDOFF[1] = 0;
    lua_pushboolean(L, started);
    return 1;
}

/* Copies the core slot's image over the code memory and starts it as a
 * reset does (vector table at 0: stack pointer, reset handler). Runs from
 * RAM (.data) with interrupts off, touching nothing of the old image. */
__attribute__((section(".ramfunc"), noinline, noreturn, long_call))
static void ram_exec(const volatile uint32_t *src, uint32_t words)
{
    uintptr_t zero = 0;
    __asm__ volatile("" : "+r"(zero));   /* the code memory starts at address 0 */
    volatile uint32_t *dst = (volatile uint32_t *)zero;
    for (uint32_t i = 0; i < words; i++)
        dst[i] = src[i];
    *(volatile uint32_t *)0xE000ED08u = 0;   /* VTOR */
    __asm__ volatile("dsb\n isb\n msr msp, %0\n bx %1\n" : : "r"(dst[0]), "r"(dst[1]) : "memory");
    for (;;) {
    }
}

/* board.exec_active() -> false | (no return): QEMU starts the image it was
 * given, as a module's ROM starts its bootloader; when that is not the
 * active core slot's image (by SHA-256), the active one is copied in and
 * started, as a bootloader starts the core it chose. */
static int l_exec_active(lua_State *L)
{
    extern uint32_t _sidata, _sdata, _edata;
    uint32_t own = (uint32_t)(uintptr_t)&_sidata + (uint32_t)((char *)&_edata - (char *)&_sdata), len;
    uint8_t sha[32];
    const uint8_t *img;
    char path[FOTA_SLOTS_PATH_MAX + 24];
    fota_boot_record rec;
    fota_slots s;
    uintptr_t zero = 0;
    __asm__ volatile("" : "+r"(zero));
    if (fota_slots_init(&s, FOTA_MPS2_ROOT) != FOTA_OK || fota_slots_read(&s, &rec) != FOTA_OK ||
        fota_slots_path(&s, 'c', rec.active.core_slot, path, sizeof path) != FOTA_OK ||
        fota_mps2_map(path, &img, &len) != FOTA_OK || len < 8 || len != rec.active.core_len)
        return luaL_error(L, "no active core image");
    if (mbedtls_sha256_ret((const uint8_t *)zero, own, sha, 0) != 0)
        return luaL_error(L, "sha256");
    if (own == len && memcmp(sha, rec.active.core_sha256, 32) == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    printf("boot: starting core slot %c (V%u, %u bytes)\n", rec.active.core_slot ? 'b' : 'a',
           (unsigned)rec.active.core_version, (unsigned)len);
    fflush(stdout);
    __asm__ volatile("cpsid i");
    BOOT_HANDOFF[0] = HANDOFF_MAGIC;
    BOOT_HANDOFF[1] = ~HANDOFF_MAGIC;
    *(volatile uint32_t *)0xE000E010u = 0;   /* SysTick off: its handler is old code */
    ram_exec((const volatile uint32_t *)(const void *)img, (len + 3) / 4);
}

static const luaL_Reg board_funcs[] = {
    { "exec_active", l_exec_active }, { "handoff", l_handoff },
    { "hostsize", l_hostsize }, { "hostread", l_hostread }, { "hostcopy", l_hostcopy },
    { "uartread", l_uartread },
    { "remove", l_remove }, { "load", l_load }, { "stats", l_stats }, { NULL, NULL }
};

/* The boot, as a module's: record, rollback or staged package, then the
 * active script slot's main.lua. The factory flash of a new device takes
 * factory.txt ("CORE VERSION"), factory-core.bin, factory-script.lfsa and
 * the signing key factory-trusted.pem (optional) from the host, the images
 * through the staging area and script slot B as scratch. */
static const char boot_lua[] =
    "fota.device('" FOTA_MPS2_ROOT "')\n"
    "local t0 = board.stats().ms\n"
    "local st, why\n"
    "if board.handoff() then st = fota.state() else st, why = fota.boot({}) end\n"
    "if not st and why == 'unflashed' then\n"
    "  local spec = assert(board.hostread('factory.txt', 0, 200), 'no factory.txt')\n"
    "  local core, ver = spec:match('^(%S+)%s+(%S+)')\n"
    "  local img, arc = '" FOTA_MPS2_ROOT "/fota/stage.bin', '" FOTA_MPS2_ROOT "/slots/script_b.lfsa'\n"
    "  board.hostcopy('factory-core.bin', img)\n"
    "  board.hostcopy('factory-script.lfsa', arc)\n"
    "  if board.hostsize('factory-trusted.pem') then\n"
    "    board.hostcopy('factory-trusted.pem', '" FOTA_MPS2_ROOT "/fota/trusted.pem')\n"
    "  end\n"
    "  assert(fota.flash{core = core, core_image = img, script = arc, version = ver})\n"
    "  board.remove(img); board.remove(arc)\n"
    "  print('boot: factory flashed ' .. core .. ' ' .. ver)\n"
    "  st, why = fota.boot({})\n"
    "end\n"
    "assert(st, 'boot: ' .. tostring(why))\n"
    "local r = st.running\n"
    "print(('boot: core %s script %s slots %s/%s%s%s%s (%d flash ops)'):format(r.core, r.version,\n"
    "  r.core_slot, r.script_slot,\n"
    "  st.key_provisioned and ' signed-only' or '',\n"
    "  st.applied_staged and (' applied_staged=' .. st.applied_staged) or '',\n"
    "  st.last_result ~= 'none' and (' last_result=' .. st.last_result) or '', board.stats().flash_ops))\n"
    "if st.applied_staged then\n"
    "  local s = board.stats()\n"
    "  print(('boot: apply %d ms, heap high-water %d B, deepest stack %d B'):format(s.ms - t0, s.heap, s.stack))\n"
    "end\n"
    "board.exec_active()\n"
    "return board.load(r.script_path, 'main.lua')()\n";

static int run(lua_State *L)
{
    static const luaL_Reg libs[] = {
        { "_G", luaopen_base }, { LUA_COLIBNAME, luaopen_coroutine }, { LUA_TABLIBNAME, luaopen_table },
        { LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 },
#ifdef DEVICE_DEBUG_LIB
        { LUA_DBLIBNAME, luaopen_debug },   /* the second release's new feature */
#endif
        { "fota", luaopen_fota }, { NULL, NULL }
    };
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    luaL_newlib(L, board_funcs);
    lua_setglobal(L, "board");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_reboot);
    lua_setfield(L, -2, "reboot");
    lua_setglobal(L, "rtos");
    lua_pushstring(L, DEVICE_BUILD);
    lua_setglobal(L, "BUILD");
    if (luaL_loadbuffer(L, boot_lua, sizeof boot_lua - 1, "=boot") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);
    return 0;
}

static void cut_option(void)
{
    char cmd[128];
    const char *c;
    if (semi_cmdline(cmd, sizeof cmd) != 0 || !(c = strstr(cmd, "cut=")))
        return;
    char *end;
    unsigned long at = strtoul(c + 4, &end, 10);
    if (at > 0 && at < 0xffffffffu)
        fota_flash_qemu_cut((uint32_t)at, strncmp(end, ":torn", 5) == 0);
}

int main(void)
{
    lua_State *L;
    int rc;
    printf("mps2-an385: luat-fota image build %s\n", DEVICE_BUILD);
    if (fota_flash_open() != FOTA_OK) {
        printf("boot: no flash image (semihosting off?)\n");
        return 1;
    }
    cut_option();
    if (!(L = luaL_newstate())) {
        printf("boot: out of memory\n");
        return 1;
    }
    lua_pushcfunction(L, run);
    rc = lua_pcall(L, 0, 0, 0);
    if (rc != LUA_OK)
        printf("error: %s\n", lua_tostring(L, -1));
    lua_close(L);
    fflush(stdout);
    return rc == LUA_OK ? 0 : 1;
}
