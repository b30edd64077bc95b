/* What an uploaded file is (console_file.h), from its first and last
 * bytes and its name. Nothing is unpacked: a .soc's core and bsp come from
 * Luatools' file name (LuatOS-SoC_V1105_EC618[_X].soc); its being an
 * archive with info.json from the zip's directory (a 7z's is compressed:
 * its magic and name are what is checked). */
#include "console_file.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "core/pkg.h"
#include "vendor.h"

#define HEAD_BYTES 4096
#define TAIL_BYTES 16384              /* a zip's central directory is at its end */

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

/* Text: no NUL, no control bytes but tab/newline/CR/ESC-free, in the head. */
static int looks_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f')) return 0;
    return n > 0;
}

/* The tail of the file holds s (a zip's central directory names its files). */
static int tail_has(FILE *f, long size, const char *s)
{
    static const size_t cap = TAIL_BYTES;
    unsigned char buf[TAIL_BYTES];
    long from = size > (long)cap ? size - (long)cap : 0;
    if (fseek(f, from, SEEK_SET) != 0) return 0;
    size_t n = fread(buf, 1, cap, f), k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(buf + i, s, k)) return 1;
    return 0;
}

/* LuatOS-SoC_V1105_EC618... : core "V1105", bsp "EC618". */
static void soc_name(const char *name, console_file_info *out)
{
    const char *p = strstr(name, "LuatOS-SoC_V");
    if (!p) return;
    p += strlen("LuatOS-SoC_");
    size_t d = strspn(p + 1, "0123456789");
    if (d < 1 || d > 6 || p[1 + d] != '_') return;
    const char *b = p + 2 + d;
    size_t bn = strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    if (bn == 0 || bn > SRV_NAME_MAX) return;
    snprintf(out->core, sizeof out->core, "%.*s", (int)(d + 1), p);
    snprintf(out->bsp, sizeof out->bsp, "%.*s", (int)bn, b);
}

static void package_info(const char *file, console_file_info *out)
{
    fota_pkg_reader r;
    if (fota_pkg_open_file(&r, file, FOTA_PKG_MAX_IMAGE) != 0) {
        out->kind = "unknown";   /* the magic, then a broken header */
        return;
    }
    const fota_pkg_info *in = &r.info;
    out->kind = "package";
    if (in->to_core_version) snprintf(out->core, sizeof out->core, "V%lu", (unsigned long)in->to_core_version);
    if (in->from_core_version) snprintf(out->from, sizeof out->from, "V%lu", (unsigned long)in->from_core_version);
    snprintf(out->bsp, sizeof out->bsp, "%s", in->bsp);
    snprintf(out->version, sizeof out->version, "%s", in->script_version);
    snprintf(out->model, sizeof out->model, "%s", in->firmware);
    fota_pkg_close(&r);
}

/* A script upload: main.lua or main.luac among its files. */
static int has_main(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;)
        found = !strcmp(e->d_name, "main.lua") || !strcmp(e->d_name, "main.luac");
    closedir(d);
    return found;
}

void console_file_read(const char *dir, const char *file, int files, console_file_info *out)
{
    memset(out, 0, sizeof *out);
    out->kind = "unknown";
    const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (has_main(dir)) {   /* the script field's upload: LuatOS starts main.lua */
        out->kind = "script";
        return;
    }
    if (files > 1) return;   /* several files without main.lua: unknown */
    FILE *f = fopen(file, "rb");
    if (!f) return;
    unsigned char head[HEAD_BYTES];
    size_t n = fread(head, 1, sizeof head, f);
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    static const unsigned char zip[] = { 'P', 'K', 3, 4 }, sevenz[] = { '7', 'z', 0xBC, 0xAF, 0x27, 0x1C },
                               gz[] = { 0x1F, 0x8B }, rar[] = { 'R', 'a', 'r', '!' }, luac[] = { 0x1B, 'L', 'u', 'a' };
    int is_zip = n >= 4 && !memcmp(head, zip, 4), is_7z = n >= 6 && !memcmp(head, sevenz, 6);
    if (n >= 4 && !memcmp(head, FOTA_PKG_MAGIC, 4)) {
        fclose(f);
        package_info(file, out);
        return;
    }
    if (n >= 4 && !memcmp(head, "LFDL", 4)) out->kind = "delta";
    else if ((is_zip && size > 0 && tail_has(f, size, "info.json")) || ((is_zip || is_7z) && ends_with(name, ".soc")))
        out->kind = "soc";
    else if (is_zip || is_7z || (n >= 2 && !memcmp(head, gz, 2)) || (n >= 4 && !memcmp(head, rar, 4)))
        out->kind = "archive";
    else if (n >= 4 && !memcmp(head, luac, 4)) out->kind = "script";
    else if (looks_text(head, n)) out->kind = ends_with(name, ".lua") ? "script" : "text";
    else {
        srv_vendor_guess g;
        if (srv_vendor_guess_name(name, &g)) {
            out->kind = "vendor";
            snprintf(out->model, sizeof out->model, "%s", g.firmware);
            snprintf(out->to, sizeof out->to, "%s", g.to);
            snprintf(out->from, sizeof out->from, "%s", g.from);
        } else {
            out->kind = "core";
        }
    }
    fclose(f);
    if (!strcmp(out->kind, "soc") || !strcmp(out->kind, "core")) soc_name(name, out);
}
