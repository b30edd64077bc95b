/* The script archive's writer (archive_pack.h): a directory walk, then
 * the entries sorted by name into one LFSA file. */
#include "host/archive_pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/files.h"
#include "core/fota_err.h"

typedef struct {
    const char *name;
    const char *path;
} arc_ent;

static int arc_ent_cmp(const void *a, const void *b)
{
    return strcmp(((const arc_ent *)a)->name, ((const arc_ent *)b)->name);
}

/* The archive-wide name rules (core/archive.h) over the sorted entries, as
 * a device applies them: what a device could not boot is never written.
 * why (may be NULL) names the entries. */
static int check_names(const arc_ent *e, size_t n, char *why, size_t why_len)
{
    fota_arc_names st;
    fota_arc_names_init(&st);
    for (size_t i = 0; i < n; i++) {
        int rc = fota_arc_names_next(&st, e[i].name, strlen(e[i].name));
        const char *what = NULL;
        if (rc == 0) continue;
        if (rc == FOTA_ARC_E_NAME_CLASH) {
            /* The file is the longest earlier name followed by '/' here. */
            for (size_t j = i; j-- > 0;) {
                size_t l = strlen(e[j].name);
                if (strncmp(e[j].name, e[i].name, l) == 0 && e[i].name[l] == '/') {
                    if (why && why_len)
                        snprintf(why, why_len, "%s: a file, and the directory of %s: a module cannot unpack both",
                                 e[j].name, e[i].name);
                    return rc;
                }
            }
        }
        what = rc == FOTA_ARC_E_MAIN_NOT_TOP ? "a main.lua below the top: LuatOS boots only the top main.lua"
             : rc == FOTA_ARC_E_TOO_DEEP ? "more than 8 directories deep"
             : rc == FOTA_ERR_FORMAT && i > 0 && strcmp(e[i - 1].name, e[i].name) == 0 ? "two files of this name"
             : "file name not allowed (components of [A-Za-z0-9._+-])";
        if (why && why_len) snprintf(why, why_len, "%s: %s", e[i].name, what);
        return rc;
    }
    return 0;
}

static int pack(const char *const *names, const char *const *paths, size_t n, const char *out_path,
                char *why, size_t why_len)
{
    if (!names || !paths || !out_path || n == 0 || n > FOTA_ARC_MAX_ENTRIES) return FOTA_ERR_ARG;
    arc_ent *e = calloc(n, sizeof *e);
    if (!e) return FOTA_ERR_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!names[i] || !paths[i] || !fota_arc_name_ok(names[i], strnlen(names[i], FOTA_ARC_MAX_NAME + 1)))
            rc = FOTA_ERR_ARG;
        e[i].name = names[i];
        e[i].path = paths[i];
    }
    if (rc) { free(e); return rc; }
    qsort(e, n, sizeof *e, arc_ent_cmp);
    if ((rc = check_names(e, n, why, why_len)) != 0) {
        free(e);
        return rc == FOTA_ERR_FORMAT ? FOTA_ERR_ARG : rc;   /* a duplicate: the caller's list */
    }

    fota_port_file *out = NULL;
    rc = fota_port_open(&out, out_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) { free(e); return rc; }
    uint8_t hdr[FOTA_ARC_HEADER_LEN];
    memcpy(hdr, FOTA_ARC_MAGIC, 4);
    fota_put16(hdr + 4, FOTA_ARC_VERSION);
    fota_put16(hdr + 6, 0);
    fota_put32(hdr + 8, (uint32_t)n);
    uint64_t off = 0, total = 0;
    rc = fota_port_pwrite(out, off, hdr, sizeof hdr);
    off += sizeof hdr;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t size = 0;
        rc = fota_file_size(e[i].path, &size);
        if (rc) break;
        total += size;
        if (total > FOTA_ARC_MAX_SIZE) { rc = FOTA_ERR_RANGE; break; }
        uint8_t f[4];
        size_t nl = strlen(e[i].name);
        fota_put16(f, (uint16_t)nl);
        rc = fota_port_pwrite(out, off, f, 2);
        off += 2;
        if (rc == 0) rc = fota_port_pwrite(out, off, e[i].name, nl);
        off += nl;
        fota_put32(f, (uint32_t)size);
        if (rc == 0) rc = fota_port_pwrite(out, off, f, 4);
        off += 4;
        if (rc == 0) rc = fota_file_copy_into(out, &off, e[i].path, size, NULL);
    }
    if (rc == 0) rc = fota_port_sync(out);
    fota_port_close(out);
    free(e);
    if (rc) fota_port_remove(out_path);
    return rc;
}

int fota_arc_pack(const char *const *names, const char *const *paths, size_t n,
                  const char *out_path)
{
    return pack(names, paths, n, out_path, NULL, 0);
}

/* The script files under a directory, for fota_arc_pack. */
#define ARC_PATH_CAP 1024
typedef struct {
    char *names[FOTA_ARC_MAX_ENTRIES];
    char *paths[FOTA_ARC_MAX_ENTRIES];
    size_t n;
    char dir[ARC_PATH_CAP], rel[ARC_PATH_CAP];
    int depth;
    char *why;
    size_t why_len;
} arc_walk;

static int arc_why(arc_walk *w, int rc, const char *what, const char *path)
{
    if (w->why && w->why_len)
        snprintf(w->why, w->why_len, "%s: %s", path, what);
    return rc;
}

static char *arc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int arc_add(arc_walk *w, const char *name, const char *path)
{
    if (w->n >= FOTA_ARC_MAX_ENTRIES) return arc_why(w, FOTA_ERR_ARG, "more than 1024 script files", path);
    if (!fota_arc_name_ok(name, strlen(name)))
        return arc_why(w, FOTA_ERR_ARG, "file name not allowed (components of [A-Za-z0-9._+-])", name);
    w->names[w->n] = arc_strdup(name);
    w->paths[w->n] = arc_strdup(path);
    if (!w->names[w->n] || !w->paths[w->n]) {
        free(w->names[w->n]);
        free(w->paths[w->n]);
        return arc_why(w, FOTA_ERR_NOMEM, "out of memory", path);
    }
    w->n++;
    return 0;
}

static int arc_visit(void *ud, const char *entry)
{
    arc_walk *w = ud;
    char path[ARC_PATH_CAP], name[ARC_PATH_CAP];
    int n1, n2, rc;
    if (entry[0] == '.') return 0;
    n1 = snprintf(path, sizeof path, "%s/%s", w->dir, entry);
    n2 = snprintf(name, sizeof name, "%s%s%s", w->rel, w->rel[0] ? "/" : "", entry);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof path || (size_t)n2 >= sizeof name)
        return arc_why(w, FOTA_ERR_ARG, "path too long", w->dir);
    switch (fota_port_kind(path)) {
    case FOTA_PORT_REGULAR:
        return arc_add(w, name, path);
    case FOTA_PORT_DIRECTORY: {
        char saved_dir[ARC_PATH_CAP], saved_rel[ARC_PATH_CAP];
        if (w->depth >= FOTA_ARC_MAX_DEPTH)
            return arc_why(w, FOTA_ERR_ARG, "directories nested deeper than 8", path);
        memcpy(saved_dir, w->dir, sizeof saved_dir);
        memcpy(saved_rel, w->rel, sizeof saved_rel);
        memcpy(w->dir, path, (size_t)n1 + 1);
        memcpy(w->rel, name, (size_t)n2 + 1);
        w->depth++;
        rc = fota_port_listdir(path, arc_visit, w);
        w->depth--;
        memcpy(w->dir, saved_dir, sizeof saved_dir);
        memcpy(w->rel, saved_rel, sizeof saved_rel);
        return rc ? (rc == FOTA_ERR_IO ? arc_why(w, rc, "cannot read directory", path) : rc) : 0;
    }
    default:
        return 0;   /* sockets, devices: not scripts */
    }
}

int fota_arc_pack_path(const char *src, const char *out_path, char *why, size_t why_len)
{
    arc_walk *w = calloc(1, sizeof *w);
    int rc, kind;
    if (!w) return FOTA_ERR_NOMEM;
    w->why = why;
    w->why_len = why_len;
    if (why && why_len) why[0] = '\0';
    kind = fota_port_kind(src);
    if (kind == FOTA_PORT_DIRECTORY) {
        if (strlen(src) >= sizeof w->dir) {
            rc = arc_why(w, FOTA_ERR_ARG, "path too long", src);
        } else {
            memcpy(w->dir, src, strlen(src) + 1);
            rc = fota_port_listdir(src, arc_visit, w);
            if (rc == FOTA_ERR_IO) arc_why(w, rc, "cannot read directory", src);
            if (rc == 0 && w->n == 0) rc = arc_why(w, FOTA_ERR_ARG, "no script files", src);
        }
    } else if (kind == FOTA_PORT_REGULAR) {
        const char *base = strrchr(src, '/');
        rc = arc_add(w, base ? base + 1 : src, src);
    } else {
        rc = arc_why(w, FOTA_ERR_NOENT, "no such file or directory", src);
    }
    if (rc == 0) {
        rc = pack((const char *const *)w->names, (const char *const *)w->paths, w->n, out_path, why, why_len);
        /* A project a module could not boot is the caller's input to fix. */
        if (rc == FOTA_ARC_E_NAME_CLASH || rc == FOTA_ARC_E_MAIN_NOT_TOP || rc == FOTA_ARC_E_TOO_DEEP)
            rc = FOTA_ERR_ARG;
        else if (rc)
            arc_why(w, rc, "cannot write the archive", out_path);
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->paths[i]);
    }
    free(w);
    return rc;
}
