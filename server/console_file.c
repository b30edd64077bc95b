/* What an uploaded file is (console_file.h), from its first and last
 * bytes and its name. A .soc (Luatools' firmware: a zip or 7z holding
 * info.json, the core image and the scripts) gives its core version by its
 * name (LuatOS-SoC_V1105_EC618[_X].soc); a zip's info.json is read too (its
 * chip.type the bsp, user.version the script version). A 7z's directory is
 * compressed: its magic and name are what is checked. */
#include "console_file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>

#include <jansson.h>
#include <zlib.h>

#include "core/pkg.h"
#include "core/version.h"
#include "validate.h"
#include "vendor.h"

#define HEAD_BYTES 4096
#define TAIL_BYTES 16384              /* a zip's central directory is at its end */
#define INFO_JSON_MAX 65536           /* a .soc's info.json is a few hundred bytes */

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

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
    return le16(p) | le16(p + 2) << 16;
}

/* A stored or deflated zip member of at most INFO_JSON_MAX bytes into out
 * (NUL-terminated); 0 / -1. */
static int zip_member(FILE *f, uint32_t local, uint32_t method, uint32_t csize, uint32_t usize, char *out)
{
    unsigned char lh[30];
    if (usize > INFO_JSON_MAX || csize > INFO_JSON_MAX || (method != 0 && method != 8)) return -1;
    if (fseek(f, (long)local, SEEK_SET) || fread(lh, 1, 30, f) != 30 || le32(lh) != 0x04034b50u) return -1;
    if (fseek(f, (long)local + 30 + (long)le16(lh + 26) + (long)le16(lh + 28), SEEK_SET)) return -1;
    unsigned char *in = malloc(csize ? csize : 1);
    if (!in) return -1;
    int rc = fread(in, 1, csize, f) == csize ? 0 : -1;
    if (rc == 0 && method == 0) {
        if (csize != usize) rc = -1;
        else memcpy(out, in, usize);
    } else if (rc == 0) {   /* raw deflate (zip), zlib's inflater */
        z_stream z;
        memset(&z, 0, sizeof z);
        rc = inflateInit2(&z, -MAX_WBITS) == Z_OK ? 0 : -1;
        if (rc == 0) {
            z.next_in = in;
            z.avail_in = csize;
            z.next_out = (unsigned char *)out;
            z.avail_out = usize;
            rc = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == usize ? 0 : -1;
            inflateEnd(&z);
        }
    }
    free(in);
    if (rc == 0) out[usize] = '\0';
    return rc;
}

/* A zip's top-level info.json (the .soc's), read into out (INFO_JSON_MAX +
 * 1 bytes): 1 found and read, 0 not there, -1 not a readable zip. */
static int zip_info_json(FILE *f, long size, char *out)
{
    unsigned char tail[TAIL_BYTES];
    long from = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
    if (size < 22 || fseek(f, from, SEEK_SET)) return -1;
    size_t n = fread(tail, 1, sizeof tail, f);
    long eocd = -1;   /* the end of central directory record: the last one */
    for (size_t i = n >= 22 ? n - 22 + 1 : 0; i-- > 0;)
        if (le32(tail + i) == 0x06054b50u) {
            eocd = (long)i;
            break;
        }
    if (eocd < 0) return -1;
    uint32_t cd_size = le32(tail + eocd + 12), cd_off = le32(tail + eocd + 16);
    if ((long)cd_off + (long)cd_size > from + eocd || cd_size > TAIL_BYTES) return -1;
    unsigned char *cd = malloc(cd_size ? cd_size : 1);
    if (!cd) return -1;
    int found = fseek(f, (long)cd_off, SEEK_SET) == 0 && fread(cd, 1, cd_size, f) == cd_size ? 0 : -1;
    for (uint32_t o = 0; found == 0 && o + 46 <= cd_size && le32(cd + o) == 0x02014b50u;) {
        uint32_t nlen = le16(cd + o + 28), next = o + 46 + nlen + le16(cd + o + 30) + le16(cd + o + 32);
        if (next > cd_size) break;
        if (nlen == 9 && !memcmp(cd + o + 46, "info.json", 9))
            found = zip_member(f, le32(cd + o + 42), le16(cd + o + 10), le32(cd + o + 20), le32(cd + o + 24), out) ? -1 : 1;
        o = next;
    }
    free(cd);
    return found;
}

/* What a .soc's info.json says: the chip is the bsp, user.version the
 * script version (when it is one). */
static void soc_info_json(const char *text, console_file_info *out)
{
    json_t *j = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
    const char *chip = json_string_value(json_object_get(json_object_get(j, "chip"), "type"));
    const char *ver = json_string_value(json_object_get(json_object_get(j, "user"), "version"));
    if (chip && *chip && strlen(chip) < sizeof out->bsp && srv_is_name(chip, strlen(chip))) {
        for (size_t i = 0; chip[i]; i++) out->bsp[i] = (char)toupper((unsigned char)chip[i]);
        out->bsp[strlen(chip)] = '\0';
    }
    if (ver && strlen(ver) < sizeof out->version && fota_version_valid(ver)) snprintf(out->version, sizeof out->version, "%s", ver);
    json_decref(j);
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
    char *info = is_zip ? malloc(INFO_JSON_MAX + 1) : NULL;
    int has_info = info && size > 0 ? zip_info_json(f, size, info) : 0;
    if (n >= 4 && !memcmp(head, "LFDL", 4)) out->kind = "delta";
    else if (has_info == 1 || ((is_zip || is_7z) && ends_with(name, ".soc")))
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
    /* the simulator's images (sim/luatos/simdevice.lua) begin "LuatOS-SoC core V1103\n": their word over the name's */
    static const char mark[] = "LuatOS-SoC core V";
    size_t m = sizeof mark - 1, d = 0;
    if (!strcmp(out->kind, "core") && n > m && !memcmp(head, mark, m)) {
        while (m + d < n && d <= 6 && head[m + d] >= '0' && head[m + d] <= '9') d++;
        if (d >= 1 && d <= 6 && m + d < n && head[m + d] == '\n')
            snprintf(out->core, sizeof out->core, "V%.*s", (int)d, (const char *)head + m);
    }
    if (has_info == 1) soc_info_json(info, out);   /* the archive's own word over its name's */
    free(info);
}
