/* AT firmware projects: see at.h and docs/at.md. */
#include "at.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "core/pkg.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

const char *const srv_at_schema =
    "CREATE TABLE IF NOT EXISTS at_family("
    " model TEXT PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project(id));";

#define AT_MARK "_AT_"

int srv_at_is_firmware(const char *name, size_t n)
{
    /* MODEL_AT_BSP: a model before the mark and a bsp after it */
    for (size_t i = 1; i + 4 < n; i++)
        if (memcmp(name + i, AT_MARK, 4) == 0)
            return 1;
    return 0;
}

static int firmware_name(const char *model, const char *bsp, char *out, size_t cap)
{
    int n;
    if (!model || !bsp || !srv_is_name(model, strlen(model)) || !srv_is_name(bsp, strlen(bsp)))
        return fail("%s", "--model and --bsp are required, [A-Za-z0-9._-]");
    n = snprintf(out, cap, "%s" AT_MARK "%s", model, bsp);
    if (n < 0 || (size_t)n >= cap || (size_t)n > SRV_NAME_MAX)
        return fail("firmware name for %s too long", model);
    return 0;
}

/* One row, one text column: the product key. 1 found, 0 none, -1 error. */
static int key_query(srv_db *d, const char *sql, const char *arg, size_t n, char key[SRV_KEY_MAX + 1])
{
    store_stmt *st = NULL;
    int found = 0;
    if (!(st = store_prepare(d->db, sql)))
        return -1;
    store_bind_text(st, 1, arg, n);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        const char *k = store_column_text(st, 0);
        if (k && strlen(k) <= SRV_KEY_MAX) {
            memcpy(key, k, strlen(k) + 1);
            found = 1;
        }
    }
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? found : -1;
}

int srv_at_default_key(srv_server *s, const char *fwname, size_t fwlen, const char *imei, size_t imeilen,
                       char key[SRV_KEY_MAX + 1])
{
    const char *mark = NULL;
    int r;
    if (!srv_at_is_firmware(fwname, fwlen))
        return 0;
    for (size_t i = 1; i + 4 < fwlen && !mark; i++)
        if (memcmp(fwname + i, AT_MARK, 4) == 0)
            mark = fwname + i;
    pthread_mutex_lock(&s->lock);
    r = key_query(&s->db, "SELECT p.product_key FROM device d JOIN project p ON p.id=d.project_id"
                          " WHERE d.imei=?1", imei, imeilen, key);
    if (r == 0)
        r = key_query(&s->db, "SELECT p.product_key FROM at_family f JOIN project p ON p.id=f.project_id"
                              " WHERE f.model=?1", fwname, (size_t)(mark - fwname), key);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int srv_at_prebuilt_path(const char *cache_dir, int64_t fw_id, uint32_t base, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/fw%" PRId64 "-from%lu-prebuilt.fota", cache_dir, fw_id, (unsigned long)base);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int cmd_at_add(srv_db *d, const char *project, const char *model, const char *bsp, const char *version,
               const char *image, const char *key)
{
    char name[SRV_NAME_MAX + 1];
    if (!project || !version || !image)
        return fail("%s", "at add needs --project --model --bsp --version V1016 --image FILE");
    int rc = firmware_name(model, bsp, name, sizeof name);
    return rc ? rc : firmware_add_named(d, project, name, bsp, version, image, NULL, SRV_AT_SCRIPT_VERSION, key);
}

/* The release of (project, name, core), or 0 when there is none; -1 error. */
static int64_t release_id(srv_db *d, int64_t pid, const char *name, uint32_t core)
{
    store_stmt *st = prep(d, "SELECT id FROM firmware WHERE project_id=?1 AND name=?2 AND core_version=?3"
                               " ORDER BY id DESC LIMIT 1");
    int64_t id = 0;
    if (!st)
        return -1;
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, name);
    store_bind_int64(st, 3, core);
    if (store_step(st) == STORE_ROW)
        id = store_column_int64(st, 0);
    store_finalize(st);
    return id;
}

int cmd_at_delta(srv_db *d, const char *project, const char *model, const char *bsp, const char *package)
{
    char name[SRV_NAME_MAX + 1], core[16], cache[SRV_PATH_MAX + 8], path[SRV_PATH_MAX], tmp[SRV_PATH_MAX + 32];
    fota_pkg_policy pol;
    fota_pkg_info in;
    int rc, delta = 0;
    int64_t pid, fw;

    if (!project || !package)
        return fail("%s", "at delta needs --project --model --bsp --package FILE");
    if ((rc = firmware_name(model, bsp, name, sizeof name)) != 0)
        return rc;
    if ((pid = project_id(d, project, NULL, 0)) <= 0)
        return EXIT_USAGE_ERR;
    /* Checked whole (hash, sections; a signature is the devices' to check)
     * before anything is stored. */
    fota_pkg_policy_init(&pol);
    pol.bsp = bsp;
    if ((rc = fota_pkg_verify_file(package, &pol, &in)) != 0) {
        fprintf(stderr, "fota-server: %s: not a valid package: %s\n", package, fota_pkg_errname(rc));
        return EXIT_USAGE_ERR;
    }
    for (unsigned i = 0; i < in.section_count; i++)
        delta |= in.sections[i].type == FOTA_PKG_SEC_CORE_DELTA;
    if (!delta || in.script_version[0] || in.to_core_version <= in.from_core_version)
        return fail("%s: an AT delta package holds one core delta to a newer version, no script", package);
    /* The release it leads to; one without an image when only deltas are uploaded. */
    snprintf(core, sizeof core, "V%lu", (unsigned long)in.to_core_version);
    if ((fw = release_id(d, pid, name, in.to_core_version)) == 0 &&
        (rc = firmware_add_named(d, project, name, bsp, core, NULL, NULL, SRV_AT_SCRIPT_VERSION, NULL)) == 0)
        fw = release_id(d, pid, name, in.to_core_version);
    if (fw <= 0)
        return rc ? rc : EXIT_IO_ERR;
    snprintf(cache, sizeof cache, "%s/cache", d->data_dir);
    if (fota_port_mkdirs(cache) != FOTA_OK || srv_at_prebuilt_path(cache, fw, in.from_core_version, path, sizeof path))
        return EXIT_IO_ERR;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (copy_file(package, tmp, FOTA_PKG_MAX_IMAGE) || fota_port_rename(tmp, path)) {
        fota_port_remove(tmp);
        fprintf(stderr, "fota-server: cannot store %s\n", package);
        return EXIT_IO_ERR;
    }
    printf("delta %s V%lu -> V%lu stored (firmware id %lld, %lu bytes%s)\n", name,
           (unsigned long)in.from_core_version, (unsigned long)in.to_core_version, (long long)fw,
           (unsigned long)in.total_len, in.is_signed ? ", signed" : ", unsigned");
    return 0;
}

int cmd_at_family(srv_db *d, const char *model, const char *project)
{
    char pids[24];
    int64_t pid;
    if (!model || !project || !srv_is_name(model, strlen(model)))
        return fail("%s", "at family needs --model MODEL ([A-Za-z0-9._-]) --project NAME");
    if ((pid = project_id(d, project, NULL, 0)) <= 0)
        return EXIT_USAGE_ERR;
    snprintf(pids, sizeof pids, "%lld", (long long)pid);
    const char *v[] = { model, pids };
    if (exec_text(d, "INSERT INTO at_family(model, project_id) VALUES(?1, ?2)"
                     " ON CONFLICT(model) DO UPDATE SET project_id=?2", 2, v))
        return EXIT_IO_ERR;
    printf("modules %s without a KEY belong to project %s\n", model, project);
    return 0;
}

int cmd_device_assign(srv_db *d, const char *imei, const char *project)
{
    if (!project)
        return fail("%s", "device assign needs --imei IMEI --project NAME");
    return cmd_device(d, "add", imei, project, NULL);
}
