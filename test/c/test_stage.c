/* The staging area: chunking, completion from the prefix, bounds, finish. */
#include <stdlib.h>
#include <string.h>

#include "core/pkg.h"
#include "core/stage.h"
#include "ctest_util.h"
#include "core/fota_err.h"
#include "port/port.h"

static void make_pkg(uint8_t *p, uint32_t total)
{
    memset(p, 0xA5, total);
    memcpy(p, "LFPK", 4);
    p[4] = 2; p[5] = 0;          /* format version 2 */
    p[6] = 0; p[7] = 0;          /* flags */
    p[8] = (uint8_t)total; p[9] = (uint8_t)(total >> 8);
    p[10] = (uint8_t)(total >> 16); p[11] = (uint8_t)(total >> 24);
}

static void test_chunks_of_every_size(void)
{
    const char *dir = ctest_tmpdir("chunks");
    char path[600], ready[640];
    uint8_t pkg[1000];
    snprintf(path, sizeof path, "%s/stage.bin", dir);
    fota_stage_ready_path(path, ready, sizeof ready);
    make_pkg(pkg, sizeof pkg);
    for (size_t step = 1; step <= 13; step += 3) {
        fota_stage s;
        long r = 1;
        fota_stage_setup(&s);
        CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
        for (size_t off = 0; off < sizeof pkg; off += step) {
            size_t n = sizeof pkg - off < step ? sizeof pkg - off : step;
            r = fota_stage_write(&s, pkg + off, n);
            if (off + n < sizeof pkg)
                CHECK(r > 0);
        }
        CHECK_EQ(r, 0);
        CHECK_EQ(fota_stage_done(&s), 0);
        CHECK(!fota_port_exists(ready));
        CHECK_EQ(fota_stage_finish(&s, 1), FOTA_OK);
        CHECK(fota_port_exists(ready));
        CHECK(ctest_file_equals(path, pkg, sizeof pkg));
        fota_stage_free(&s);
    }
}

static void test_remaining_counts_down(void)
{
    const char *dir = ctest_tmpdir("remaining");
    char path[600];
    uint8_t pkg[300];
    fota_stage s;
    snprintf(path, sizeof path, "%s/stage.bin", dir);
    make_pkg(pkg, sizeof pkg);
    fota_stage_setup(&s);
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 5), 1);          /* total not known yet */
    CHECK_EQ(fota_stage_write(&s, pkg + 5, 20), 275);
    CHECK_EQ(fota_stage_done(&s), 275);
    CHECK_EQ(fota_stage_finish(&s, 1), FOTA_ERR_STATE); /* incomplete: refused, kept */
    CHECK_EQ(fota_stage_write(&s, pkg + 25, 275), 0);
    fota_stage_free(&s);
}

static void test_overflow_and_bad_prefix(void)
{
    const char *dir = ctest_tmpdir("bounds");
    char path[600];
    uint8_t pkg[300];
    fota_stage s;
    snprintf(path, sizeof path, "%s/stage.bin", dir);
    fota_stage_setup(&s);

    /* One byte past the announced total, in the same chunk. */
    make_pkg(pkg, 200);
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 201), FOTA_ERR_RANGE);
    CHECK_EQ(fota_stage_done(&s), FOTA_ERR_RANGE);
    CHECK_EQ(fota_stage_write(&s, pkg, 1), FOTA_ERR_RANGE); /* stays failed */

    /* A write after completion. */
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 200), 0);
    CHECK_EQ(fota_stage_write(&s, pkg, 1), FOTA_ERR_RANGE);

    /* A package announcing more than the capacity. */
    make_pkg(pkg, 300);
    CHECK_EQ(fota_stage_init(&s, path, 299), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 12), FOTA_ERR_RANGE);

    /* More bytes than the capacity before the prefix is even known. */
    CHECK_EQ(fota_stage_init(&s, path, 16), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 17), FOTA_ERR_RANGE);

    /* Not a package. */
    memcpy(pkg, "NOPE", 4);
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 12), FOTA_ERR_FORMAT);

    /* Writing before init. */
    fota_stage_free(&s);
    CHECK_EQ(fota_stage_write(&s, pkg, 1), FOTA_ERR_STATE);
}

static void test_finish_false_discards(void)
{
    const char *dir = ctest_tmpdir("discard");
    char path[600], ready[640];
    uint8_t pkg[256];
    fota_stage s;
    snprintf(path, sizeof path, "%s/stage.bin", dir);
    fota_stage_ready_path(path, ready, sizeof ready);
    make_pkg(pkg, sizeof pkg);
    fota_stage_setup(&s);
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, sizeof pkg), 0);
    CHECK_EQ(fota_stage_finish(&s, 1), FOTA_OK);
    CHECK(fota_port_exists(ready));
    /* Finished: still done, no more writes, finishing again changes nothing. */
    CHECK_EQ(fota_stage_done(&s), 0);
    CHECK_EQ(fota_stage_write(&s, pkg, 1), FOTA_ERR_STATE);
    CHECK_EQ(fota_stage_finish(&s, 1), FOTA_OK);
    CHECK_EQ(fota_stage_done(&s), 0);

    /* A new init drops the old ready marker before writing anything. */
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK(!fota_port_exists(ready));
    CHECK_EQ(fota_stage_write(&s, pkg, 10), 1);
    CHECK_EQ(fota_stage_finish(&s, 0), FOTA_OK);
    CHECK(!fota_port_exists(path));
    CHECK_EQ(fota_stage_finish(&s, 0), FOTA_ERR_STATE);

    /* Discarding a finished package takes its ready marker too. */
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, sizeof pkg), 0);
    CHECK_EQ(fota_stage_finish(&s, 1), FOTA_OK);
    CHECK_EQ(fota_stage_finish(&s, 0), FOTA_OK);
    CHECK(!fota_port_exists(ready));
    CHECK(!fota_port_exists(path));
    fota_stage_free(&s);
}

static void test_resume(void)
{
    const char *dir = ctest_tmpdir("resume");
    char path[600];
    uint8_t pkg[1000];
    fota_stage s;
    snprintf(path, sizeof path, "%s/stage.bin", dir);
    make_pkg(pkg, sizeof pkg);
    fota_stage_setup(&s);

    /* A cut after 5 bytes (prefix not yet known), then after 600. */
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_write(&s, pkg, 5), 1);
    fota_stage_free(&s);
    CHECK_EQ(fota_stage_resume(&s, path, 4096), FOTA_OK);
    CHECK_EQ(s.written, 5);
    CHECK_EQ(fota_stage_write(&s, pkg + 5, 595), 400);
    fota_stage_free(&s);
    CHECK_EQ(fota_stage_resume(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_done(&s), 400);
    CHECK_EQ(fota_stage_write(&s, pkg + 600, 400), 0);
    CHECK(ctest_file_equals(path, pkg, sizeof pkg));
    fota_stage_free(&s);

    /* Already complete: done at once. */
    CHECK_EQ(fota_stage_resume(&s, path, 4096), FOTA_OK);
    CHECK_EQ(fota_stage_done(&s), 0);
    fota_stage_free(&s);

    /* More on disk than allowed, or not a package: refused. */
    CHECK_EQ(fota_stage_resume(&s, path, 999), FOTA_ERR_RANGE);
    fota_stage_free(&s);
    pkg[0] = 'X';
    CHECK_EQ(fota_stage_init(&s, path, 4096), FOTA_OK);
    fota_stage_free(&s);
    {
        fota_port_file *f;
        CHECK_EQ(fota_port_open(&f, path, FOTA_PORT_WRITE), FOTA_OK);
        CHECK_EQ(fota_port_pwrite(f, 0, pkg, 100), FOTA_OK);
        fota_port_close(f);
    }
    CHECK_EQ(fota_stage_resume(&s, path, 4096), FOTA_ERR_FORMAT);
    fota_stage_free(&s);
}

static void test_bad_storage(void)
{
    fota_stage s;
    fota_stage_setup(&s);
    CHECK_EQ(fota_stage_init(&s, "/nonexistent-dir/x/stage.bin", 4096), FOTA_ERR_NOENT);
    CHECK_EQ(fota_stage_done(&s), FOTA_ERR_NOENT);
    CHECK_EQ(fota_stage_init(&s, "x", 4), FOTA_ERR_ARG);
    fota_stage_free(&s);
}

int main(void)
{
    test_chunks_of_every_size();
    test_remaining_counts_down();
    test_overflow_and_bad_prefix();
    test_finish_false_discards();
    test_resume();
    test_bad_storage();
    return ctest_finish("test_stage");
}
