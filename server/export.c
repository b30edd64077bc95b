/* fota-server export DIR, a command of the CLI: every package the current configurations can
 * answer, under its content-addressed name (<sha256>.fota), for upload to
 * a static host (serve --package-url). The packages are the server's own
 * (the same builder, key and cache), so the names are the ones the server
 * redirects to; vendor packages (vendor.h) of the configured targets go
 * as uploaded. The host is not trusted: devices verify the signature. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "cli.h"
#include "export.h"
#include "core/files.h"
#include "core/fota_err.h"
#include "port/port.h"

#define EXPORT_MAX_JOBS 4096          /* (release, base) pairs at most */
#define EXPORT_WAIT_MS (10 * 60 * 1000)   /* one package's build, at most */

typedef struct job {
    int64_t fw_id;
    uint32_t base;
    char base_image[SRV_PATH_MAX];
} job;

/* The (release, base) pairs of every enabled configuration: each base
 * core with a stored image (a delta, or script-only on the target's own
 * core), one base without an image (the whole core: the same package for
 * every such base), and the reinstall package when configured. */
static int collect(srv_db *d, job *jobs, size_t *n)
{
    store_stmt *st = db_prep(d, "SELECT c.firmware_id, c.reinstall, f.project_id, f.bsp, f.core_version"
                               " FROM config c JOIN firmware f ON f.id=c.firmware_id WHERE c.enabled=1"
                               " ORDER BY c.id");
    if (!st) return -1;
    int rc;
    *n = 0;
    while ((rc = store_step(st)) == STORE_ROW) {
        int64_t fw_id = store_column_int64(st, 0);
        int reinstall = (int)store_column_int64(st, 1);
        int64_t pid = store_column_int64(st, 2);
        const char *bsp = store_column_text(st, 3);
        uint32_t target_core = (uint32_t)store_column_int64(st, 4);
        store_stmt *b = db_prep(d, "SELECT core_version, MAX(core_path) FROM firmware WHERE project_id=?1"
                                  " AND bsp=?2 AND core_path<>'' AND core_version<=?3 GROUP BY core_version");
        if (!b) break;
        store_bind_int64(b, 1, pid);
        store_bind_str(b, 2, bsp ? bsp : "");
        store_bind_int64(b, 3, target_core);
        while (store_step(b) == STORE_ROW && *n < EXPORT_MAX_JOBS) {
            job *j = &jobs[(*n)++];
            j->fw_id = fw_id;
            j->base = (uint32_t)store_column_int64(b, 0);
            const char *p = store_column_text(b, 1);
            snprintf(j->base_image, sizeof j->base_image, "%s", p && j->base != target_core ? p : "");
        }
        store_finalize(b);
        /* no image: core 0 stands for every unknown base */
        if (*n < EXPORT_MAX_JOBS) jobs[(*n)++] = (job){ fw_id, 0, "" };
        if (reinstall && *n < EXPORT_MAX_JOBS) jobs[(*n)++] = (job){ fw_id, SRV_BASE_REINSTALL, "" };
    }
    store_finalize(st);
    return rc == STORE_DONE ? 0 : -1;
}

/* pkg into dir under its content-addressed name, unless there already. */
static int write_one(const char *dir, const srv_pkg *pkg, const char *fw_name, const char *from, size_t *written,
                     size_t *present)
{
    char name[80], out[SRV_PATH_MAX + 100], tmp[SRV_PATH_MAX + 120];
    struct stat sb;
    if (srv_package_name(pkg, name, sizeof name) || snprintf(out, sizeof out, "%s/%s", dir, name) >= (int)sizeof out ||
        snprintf(tmp, sizeof tmp, "%s.tmp%ld", out, (long)getpid()) >= (int)sizeof tmp)
        return EXIT_IO_ERR;
    if (stat(out, &sb) == 0 && (uint64_t)sb.st_size == pkg->size) {
        (*present)++;   /* content-addressed: the same bytes */
    } else if (fota_file_copy(pkg->path, tmp, pkg->size) != 0 || fota_port_rename(tmp, out) != FOTA_OK) {
        fota_port_remove(tmp);
        fprintf(stderr, "fota-server: cannot write %s\n", out);
        return EXIT_IO_ERR;
    } else {
        (*written)++;
    }
    printf("%s  %s from %s, %" PRIu64 " bytes\n", name, fw_name ? fw_name : "?", from ? from : "?", pkg->size);
    return 0;
}

int cmd_export(srv_db *d, const char *dir, const char *key_path, const char *max_size)
{
    unsigned long max = 0;
    if (!dir || !*dir) return cli_fail("%s", "export: the directory is required (fota-server export DIR)");
    if (max_size && srv_parse_uint(max_size, 0x7fffffffUL, &max))
        return cli_fail("--max-size: bytes, as the server's: '%s'", max_size);
    if (strlen(dir) > SRV_PATH_MAX - 100) return cli_fail("%s", "export: directory path too long");
    if (fota_port_mkdirs(dir) != FOTA_OK) {
        fprintf(stderr, "fota-server: cannot create %s\n", dir);
        return EXIT_IO_ERR;
    }
    job *jobs = calloc(EXPORT_MAX_JOBS, sizeof *jobs);
    srv_builder *b = calloc(1, sizeof *b);
    int rc = 0;
    if (!jobs || !b) {
        free(jobs);
        free(b);
        return EXIT_IO_ERR;
    }
    size_t n = 0;
    if (collect(d, jobs, &n) || builder_init(b, d->data_dir, key_path, (uint32_t)max, 0, d->location)) {
        free(jobs);
        free(b);
        return EXIT_IO_ERR;
    }
    if (builder_start(b)) rc = EXIT_IO_ERR;
    size_t written = 0, present = 0, skipped = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        srv_firmware fw;
        srv_pkg pkg;
        if (db_firmware_get(d, jobs[i].fw_id, &fw)) {
            rc = EXIT_IO_ERR;
            break;
        }
        int state = PKG_BUILDING;
        for (int waited = 0; waited < EXPORT_WAIT_MS; waited += 20) {
            state = builder_get(b, &fw, jobs[i].base, jobs[i].base_image, &pkg);
            if (state != PKG_BUILDING) break;
            fota_port_sleep_ms(20);
        }
        char from[40];
        if (jobs[i].base == SRV_BASE_REINSTALL) snprintf(from, sizeof from, "reinstall");
        else if (jobs[i].base == 0) snprintf(from, sizeof from, "any core without an image");
        else snprintf(from, sizeof from, "V%lu", (unsigned long)jobs[i].base);
        if (state != PKG_READY) {
            /* e.g. the whole core does not fit: those devices get 44 / 500 from the server too */
            printf("skipped %s from %s: %s\n", fw.name, from, state == PKG_BUILDING ? "build timed out" : pkg.why);
            skipped++;
            continue;
        }
        if ((rc = write_one(dir, &pkg, fw.name, from, &written, &present)) != 0) break;
    }
    /* vendor packages of the configured targets: as uploaded */
    store_stmt *st = rc ? NULL : db_prep(d, "SELECT v.path, v.sha256, v.size, f.name, v.bases FROM vendor_package v"
                                            " JOIN firmware f ON f.id=v.firmware_id WHERE v.firmware_id IN"
                                            " (SELECT firmware_id FROM config WHERE enabled=1) ORDER BY v.id");
    while (st && rc == 0 && store_step(st) == STORE_ROW) {
        srv_pkg pkg;
        memset(&pkg, 0, sizeof pkg);
        char stored[SRV_PATH_MAX];
        store_column_copy(st, 0, stored, sizeof stored);
        /* PostgreSQL: fetched from the database (into the CLI's cache) */
        if (db_local_file(d, stored, pkg.path, sizeof pkg.path)) {
            fprintf(stderr, "fota-server: vendor package %s missing\n", stored);
            rc = EXIT_IO_ERR;
            break;
        }
        store_column_copy(st, 1, pkg.sha256, sizeof pkg.sha256);
        pkg.size = (uint64_t)store_column_int64(st, 2);
        rc = write_one(dir, &pkg, store_column_text(st, 3), store_column_text(st, 4), &written, &present);
    }
    store_finalize(st);
    builder_stop(b);
    printf("export: %zu written, %zu already there, %zu skipped, into %s\n", written, present, skipped, dir);
    free(jobs);
    free(b);
    return rc;
}
