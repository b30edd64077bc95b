/* The NOR flash layout (port_nor.h): NOR's rules through the port's file
 * API, a cut mid-erase, and the slots and boot record kept on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/slots.h"
#include "ctest_util.h"
#include "core/fota_err.h"
#include "port/port.h"
#include "port/sim/port_nor.h"

static char slots_dir[600], image[640];

static void put(const char *name, int mode, uint64_t off, const char *data)
{
    char path[700];
    fota_port_file *f;
    snprintf(path, sizeof path, "%s/%s", slots_dir, name);
    CHECK_EQ(fota_port_open(&f, path, mode), FOTA_OK);
    CHECK_EQ(fota_port_pwrite(f, off, data, strlen(data)), FOTA_OK);
    fota_port_close(f);
}

static size_t get(const char *name, char *buf, size_t cap)
{
    char path[700];
    fota_port_file *f;
    size_t got = 0;
    snprintf(path, sizeof path, "%s/%s", slots_dir, name);
    if (fota_port_open(&f, path, FOTA_PORT_READ) != FOTA_OK)
        return (size_t)-1;
    CHECK_EQ(fota_port_pread(f, 0, buf, cap, &got), FOTA_OK);
    fota_port_close(f);
    return got;
}

static void test_nor_rules(void)
{
    char buf[64], path[700];
    fota_port_file *f;
    uint64_t size;
    size_t n;
    uint8_t *img;

    /* a new chip: erased, no files */
    img = ctest_read_file(image, &n);
    CHECK(img != NULL && n > 4u * 1024 * 1024 / 2);
    CHECK(img && img[0] == 0xFF && img[n - 1] == 0xFF);
    free(img);
    snprintf(path, sizeof path, "%s/core_a.bin", slots_dir);
    CHECK_EQ(fota_port_kind(path), FOTA_PORT_MISSING);
    CHECK_EQ(fota_port_kind(slots_dir), FOTA_PORT_DIRECTORY);

    /* erase + program reads back; a program over data lands as old AND new */
    put("core_a.bin", FOTA_PORT_WRITE | FOTA_PORT_TRUNC, 0, "hello");
    CHECK_EQ(get("core_a.bin", buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    put("core_a.bin", FOTA_PORT_WRITE, 0, "HELLO");
    CHECK_EQ(get("core_a.bin", buf, sizeof buf), 5);
    CHECK(memcmp(buf, "HELLO", 5) == 0);   /* 'h' & 'H' == 'H': bits only clear */
    put("core_a.bin", FOTA_PORT_WRITE, 0, "a");
    CHECK_EQ(get("core_a.bin", buf, sizeof buf), 5);
    CHECK_EQ(buf[0], 'H' & 'a');
    /* erased again by a truncating open */
    put("core_a.bin", FOTA_PORT_WRITE | FOTA_PORT_TRUNC, 0, "xy");
    CHECK_EQ(get("core_a.bin", buf, sizeof buf), 2);
    CHECK(memcmp(buf, "xy", 2) == 0);

    /* sizes, shrink only; no renames; no unknown names; bounded regions */
    CHECK_EQ(fota_port_open(&f, path, FOTA_PORT_WRITE), FOTA_OK);
    CHECK_EQ(fota_port_truncate(f, 1), FOTA_OK);
    CHECK_EQ(fota_port_size(f, &size), FOTA_OK);
    CHECK_EQ(size, 1);
    CHECK_EQ(fota_port_truncate(f, 10), FOTA_ERR_ARG);
    CHECK_EQ(fota_port_pwrite(f, 1024 * 1024, "z", 1), FOTA_ERR_RANGE);
    CHECK_EQ(fota_port_sync(f), FOTA_OK);
    fota_port_close(f);
    {
        char other[700];
        snprintf(other, sizeof other, "%s/core_b.bin", slots_dir);
        CHECK_EQ(fota_port_rename(path, other), FOTA_ERR_ARG);
        snprintf(other, sizeof other, "%s/notes.txt", slots_dir);
        CHECK_EQ(fota_port_open(&f, other, FOTA_PORT_WRITE), FOTA_ERR_ARG);
        CHECK_EQ(fota_port_open(&f, other, FOTA_PORT_READ), FOTA_ERR_NOENT);
    }
    /* removal erases the header: the file is gone */
    CHECK_EQ(fota_port_remove(path), FOTA_OK);
    CHECK_EQ(fota_port_exists(path), 0);
    CHECK(get("core_a.bin", buf, sizeof buf) == (size_t)-1);
}

static void test_cut_mid_erase(void)
{
    char buf[8];
    int r;
    put("script_a.lfsa", FOTA_PORT_WRITE | FOTA_PORT_TRUNC, 0, "old data");
    r = fota_nor_region(strcat(strcpy((char[700]){ 0 }, slots_dir), "/script_a.lfsa"));
    CHECK(r >= 0);
    /* the power goes in the middle of the erase: header and the first blocks
     * erased, one block half erased, the rest untouched */
    CHECK_EQ(fota_nor_open(r, 1, 1), FOTA_OK);
    CHECK_EQ(fota_nor_exists(r), 0);   /* the header went first: no file, not a wrong one */
    CHECK(get("script_a.lfsa", buf, sizeof buf) == (size_t)-1);
    /* the next erase is whole again */
    put("script_a.lfsa", FOTA_PORT_WRITE | FOTA_PORT_TRUNC, 0, "new");
    CHECK_EQ(get("script_a.lfsa", buf, sizeof buf), 3);
    CHECK(memcmp(buf, "new", 3) == 0);
}

static void test_slots_on_nor(const char *dev)
{
    char core[700], script[700];
    fota_boot_record rec;
    fota_slots s;
    uint8_t noise[20000];
    FILE *f;

    snprintf(core, sizeof core, "%s/core.bin", dev);
    snprintf(script, sizeof script, "%s/script.bin", dev);
    ctest_fill(noise, sizeof noise, 7);
    f = fopen(core, "wb");
    fwrite(noise, 1, sizeof noise, f);
    fclose(f);
    f = fopen(script, "wb");
    fwrite(noise, 1, 3000, f);
    fclose(f);

    CHECK_EQ(fota_slots_init(&s, dev), FOTA_OK);
    CHECK_EQ(fota_slots_read(&s, &rec), FOTA_ERR_NOENT);
    CHECK_EQ(fota_slots_flash(&s, core, 1103, script, "1.0.0"), FOTA_OK);
    /* record rewrites (each an erase + program of the older copy), boots */
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(fota_slots_boot(&s, &rec), FOTA_OK);
        CHECK_EQ(fota_slots_write(&s, &rec), FOTA_OK);
    }
    CHECK_EQ(fota_slots_read(&s, &rec), FOTA_OK);
    CHECK_EQ(rec.seq, 6);
    CHECK_EQ(rec.active.core_version, 1103);
    CHECK_EQ(rec.active.core_len, sizeof noise);
    CHECK_EQ(fota_slots_check_image(&s, &rec.active), FOTA_OK);
    /* all of it is in the flash image, nothing in files */
    snprintf(core, sizeof core, "%s/slots", dev);
    CHECK_EQ(fota_port_kind(core), FOTA_PORT_DIRECTORY);
    snprintf(core, sizeof core, "%s/slots/boot0.rec", dev);
    f = fopen(core, "rb");
    CHECK(f == NULL);
    if (f)
        fclose(f);
}

int main(void)
{
    const char *dev = ctest_tmpdir("nor");
    snprintf(slots_dir, sizeof slots_dir, "%s/slots", dev);
    snprintf(image, sizeof image, "%s.nor", slots_dir);
    setenv("LUAT_FOTA_NOR", slots_dir, 1);
    CHECK_EQ(fota_port_mkdirs(slots_dir), FOTA_OK);
    test_nor_rules();
    test_cut_mid_erase();
    /* the slots on a fresh chip */
    remove(image);
    test_slots_on_nor(dev);
    return ctest_finish("test_nor");
}
