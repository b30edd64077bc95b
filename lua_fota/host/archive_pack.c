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

int fota_arc_pack(const char *const *names, const char *const *paths, size_t n,
                  const char *out_path)
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
    for (size_t i = 1; i < n; i++)
        if (strcmp(e[i - 1].name, e[i].name) == 0) { free(e); return FOTA_ERR_ARG; }

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

/* The script files under a directory, for fota_arc_pack. */
#define ARC_WALK_DEPTH 8
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
        if (w->depth >= ARC_WALK_DEPTH) return arc_why(w, FOTA_ERR_ARG, "directories nested deeper than 8", path);
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
        rc = fota_arc_pack((const char *const *)w->names, (const char *const *)w->paths, w->n, out_path);
        if (rc) arc_why(w, rc, "cannot write the archive", out_path);
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->paths[i]);
    }
    free(w);
    return rc;
}
