/* fotapack: build, inspect and verify luat-fota upgrade packages, and make
 * signing keys. Format: docs/package-format.md. File contents go through
 * port.h; stdio is used only for messages, umask only to keep a new private
 * key unreadable by others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/archive_pack.h"
#include "core/bytes.h"
#include "host/delta_file.h"
#include "core/files.h"
#include "core/pkg.h"
#include "host/pkg_build.h"
#include "core/sig.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

enum { EXIT_OK = 0, EXIT_REJECTED = 1, EXIT_USAGE = 2, EXIT_IOERR = 3 };

#define MAX_KEY_FILE 16384
#define PATH_CAP 1024

static const char *const usage_main =
    "usage: fotapack COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  build    make an upgrade package from a core image and/or scripts\n"
    "  inspect  print what a package contains\n"
    "  verify   check a package as a device would\n"
    "  keygen   make an ECDSA P-256 signing key\n"
    "  delta    make a core delta: fotapack delta OLD NEW OUT\n"
    "  patch    apply a core delta: fotapack patch OLD DELTA OUT\n"
    "\n"
    "fotapack COMMAND --help shows the options of a command.\n"
    "\n"
    "Exit codes: 0 success; 1 package rejected (verify/inspect) or result over\n"
    "the size limit (build); 2 usage error; 3 I/O or internal error.\n";

static const char *const usage_build =
    "usage: fotapack build --project P --bsp B --core-version V1104 --version X.Y.Z\n"
    "                      [--to-core NEW.bin [--from-core OLD.bin --from-core-version V1103]]\n"
    "                      [--script DIR_OR_FILE] [--runs-on LIST] [--reinstall]\n"
    "                      [--key key.pem] [--max-size BYTES] [--delta-format 3|4|5]\n"
    "                      -o out.fota\n"
    "\n"
    "  --project P          LuatOS PROJECT ([A-Za-z0-9._-])\n"
    "  --bsp B              BSP name, e.g. EC618; firmware is P_LuatOS-SoC_B\n"
    "  --core-version V     the release's core version: V1104 or 1104\n"
    "  --version X.Y.Z      the release's script VERSION\n"
    "  --to-core FILE       ship the release's core image, whole (section type 2)\n"
    "  --from-core FILE     the devices' current core: ship --to-core as a delta\n"
    "                       against it (section type 1) instead of whole\n"
    "  --from-core-version V  that core's version (required with --from-core)\n"
    "  --script PATH        ship the release's scripts: a directory (files under\n"
    "                       it, dot-files skipped) or one file; archived, zlib-compressed\n"
    "  --runs-on LIST       a package with one half only: the versions of the other\n"
    "                       half it may run with, comma-separated (core versions for\n"
    "                       scripts only, script versions for a core only; at most 8);\n"
    "                       default the release's own\n"
    "  --reinstall          may be installed over the same release\n"
    "  --key FILE           sign with this P-256 private key (PEM)\n"
    "  --max-size BYTES     size limit (default 491520); over it the build fails\n"
    "  --delta-format 3|4|5 only that delta version (default: the smallest); a\n"
    "                       version-5-only device (FOTA_DELTA_V5_ONLY) needs 5\n"
    "  -o FILE              output package\n"
    "At least one of --to-core and --script is needed.\n"
    "Exit: 0 written; 1 over the size limit; 2 usage; 3 I/O or bad input file.\n";

static const char *const usage_inspect =
    "usage: fotapack inspect FILE [--json]\n"
    "Prints the header, metadata and sections, and whether the hashes match\n"
    "(no signature check: use verify --pubkey).\n"
    "Exit: 0 well-formed and hashes match; 1 rejected (reason printed); 2 usage.\n";

static const char *const usage_verify =
    "usage: fotapack verify FILE [--pubkey pub.pem] [--base CORE.bin] [--max-size N]\n"
    "                       [--core-version V] [--script-version X.Y.Z]\n"
    "                       [--allow-rollback]\n"
    "\n"
    "  --pubkey FILE        trusted key: the package must be signed by it\n"
    "  --base FILE          the device's current core image: a delta's base is\n"
    "                       checked and the delta applied to check its result\n"
    "  --max-size N         size limit (default 491520)\n"
    "  --core-version V     running core version (base, pair, rollback checks)\n"
    "  --script-version V   running script version (pair, rollback checks)\n"
    "  --allow-rollback     accept older versions\n"
    "Prints OK, or FAIL: NAME with NAME one of bad_magic bad_version truncated\n"
    "too_large bad_section hash_mismatch bad_signature no_signature wrong_base\n"
    "rollback bad_meta io wrong_pair same_release.\n"
    "Exit: 0 accepted; 1 rejected; 2 usage; 3 I/O error on an option's file.\n";

static const char *const usage_delta =
    "usage: fotapack delta [--base-address ADDR] [--window-bits N] [--format 3|4|5] OLD NEW OUT\n"
    "Writes a core delta (docs/delta-format.md) that turns OLD into NEW and\n"
    "prints its size. Images up to 16 MiB.\n"
    "  --base-address ADDR  the address OLD is loaded at (0x08000000 or decimal);\n"
    "                       default: found from the image\n"
    "  --window-bits N      deflate window 2^N bytes, 9..15 (default: the device's);\n"
    "                       versions 3 and 4 only (version 5 has no deflate stream)\n"
    "  --format 3|4|5       only that delta version (default: the smallest; appliers\n"
    "                       built before version 5 read 3 and 4, before 4 only 3)\n"
    "Exit: 0 written; 2 usage; 3 I/O error or image too large.\n";

static const char *const usage_patch =
    "usage: fotapack patch [--window-bits N] OLD DELTA OUT\n"
    "Applies a core delta to OLD as a device does (streaming, fixed RAM) and\n"
    "writes the result to OUT, checked against the delta's SHA-256.\n"
    "  --window-bits N      refuse a delta whose window is above 2^N bytes, 9..15,\n"
    "                       as a device's applier built for N does (default 15:\n"
    "                       every window the format allows)\n"
    "Exit: 0 written; 1 delta refused (FAIL: NAME); 2 usage; 3 I/O error.\n";

static const char *const usage_keygen =
    "usage: fotapack keygen -o key.pem [--pub pub.pem] [--force]\n"
    "Writes a new ECDSA P-256 private key (mode 0600) and optionally its public\n"
    "key. Refuses to overwrite an existing key unless --force.\n"
    "Exit: 0 written; 2 usage; 3 I/O error.\n";

/* ------------------------------------------------------------------ */

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!s || !*s) return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX) return -1;
    }
    if (v == 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Reads a small text file whole, NUL-terminated. */
static int read_text(const char *path, char *buf, size_t cap)
{
    fota_port_file *f = NULL;
    uint64_t size = 0;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_size(f, &size);
    if (rc == 0 && size >= cap) rc = FOTA_ERR_RANGE;
    size_t got = 0;
    if (rc == 0) rc = fota_port_pread(f, 0, buf, (size_t)size, &got);
    if (rc == 0 && got != size) rc = FOTA_ERR_IO;
    fota_port_close(f);
    if (rc == 0) buf[got] = '\0';
    return rc;
}

static int write_text(const char *path, const char *text)
{
    fota_port_file *f = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) return rc;
    rc = fota_port_pwrite(f, 0, text, strlen(text));
    if (rc == 0) rc = fota_port_sync(f);
    fota_port_close(f);
    return rc;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* build                                                               */

#define RUNS_ON_CAP 512

/* --runs-on "V1103,V1104" (cores) or "1.0.1,1.0.2" (scripts) into o; the
 * script names point into buf. Order and repeats are judged by the builder. */
static int parse_runs_on(const char *list, int cores, fota_pkg_build_opts *o,
                         uint32_t core_out[FOTA_PKG_MAX_RUNS_ON],
                         const char *scripts[FOTA_PKG_MAX_RUNS_ON], char buf[RUNS_ON_CAP])
{
    size_t len = strlen(list);
    unsigned n = 0;
    if (len == 0 || len >= RUNS_ON_CAP) return -1;
    memcpy(buf, list, len + 1);
    for (char *item = buf, *next; item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        if (n == FOTA_PKG_MAX_RUNS_ON) return -1;
        if (cores ? fota_version_parse_core(item, &core_out[n]) != 0 : !fota_version_valid(item))
            return -1;
        scripts[n++] = item;
    }
    o->runs_on_count = n;
    if (cores) o->runs_on_core = core_out;
    else o->runs_on_script = scripts;
    return 0;
}

typedef struct {
    const char *project, *bsp, *to_core, *core_ver, *from_core, *from_ver, *script, *version;
    const char *key, *out, *max_s, *runs_on, *delta_format;
    int reinstall;
} build_args;

/* What the builder's options point into while it runs. */
typedef struct {
    uint32_t runs_on_core[FOTA_PKG_MAX_RUNS_ON];
    const char *runs_on_script[FOTA_PKG_MAX_RUNS_ON];
    char runs_on[RUNS_ON_CAP];
    char delta_path[PATH_CAP], arc_path[PATH_CAP];
    uint8_t base_sha[32], new_sha[32];
    char *key_pem;
} build_bufs;

/* EXIT_OK parsed, EXIT_USAGE (said why), or -1: the help was asked for. */
static int parse_build_args(int argc, char **argv, build_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (is_help(arg)) return -1;
        if (!strcmp(arg, "--reinstall")) { a->reinstall = 1; continue; }
        const char **slot = NULL;
        if (!strcmp(arg, "--project")) slot = &a->project;
        else if (!strcmp(arg, "--bsp")) slot = &a->bsp;
        else if (!strcmp(arg, "--to-core")) slot = &a->to_core;
        else if (!strcmp(arg, "--core-version")) slot = &a->core_ver;
        else if (!strcmp(arg, "--from-core")) slot = &a->from_core;
        else if (!strcmp(arg, "--from-core-version")) slot = &a->from_ver;
        else if (!strcmp(arg, "--script")) slot = &a->script;
        else if (!strcmp(arg, "--version")) slot = &a->version;
        else if (!strcmp(arg, "--key")) slot = &a->key;
        else if (!strcmp(arg, "--max-size")) slot = &a->max_s;
        else if (!strcmp(arg, "--runs-on")) slot = &a->runs_on;
        else if (!strcmp(arg, "--delta-format")) slot = &a->delta_format;
        else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) slot = &a->out;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "fotapack build: %s '%s'\n", slot ? "missing value for" : "unknown option", arg);
            fputs(usage_build, stderr);
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    return EXIT_OK;
}

/* The options from the arguments; NULL, or what is wrong with them. */
static const char *build_options(const build_args *a, fota_pkg_build_opts *o, build_bufs *b)
{
    memset(o, 0, sizeof *o);
    o->max_size = FOTA_PKG_DEFAULT_MAX_SIZE;
    o->release_script_version = a->version;
    o->reinstall = a->reinstall;
    o->project = a->project;
    o->bsp = a->bsp;
    if (a->to_core) {
        o->core_type = FOTA_PKG_SEC_CORE_FULL;
        o->core_path = a->to_core;
    }
    if (!a->project || !a->bsp) return "--project and --bsp are required";
    if (!a->out) return "-o is required";
    if (!a->to_core && !a->script) return "need --to-core and/or --script";
    if (a->from_core && !a->to_core) return "--from-core needs --to-core";
    if ((a->from_core != NULL) != (a->from_ver != NULL))
        return "--from-core and --from-core-version go together";
    if (a->from_ver && fota_version_parse_core(a->from_ver, &o->from_core_version))
        return "--from-core-version must look like V1103 or 1103";
    if (!a->core_ver || !a->version) return "--core-version and --version (the release) are required";
    if (fota_version_parse_core(a->core_ver, &o->release_core_version))
        return "--core-version must look like V1104 or 1104";
    if (!fota_version_valid(a->version)) return "--version must be X.Y.Z (digits)";
    if (a->runs_on && a->to_core && a->script) return "--runs-on is for a package with one half only";
    if (a->runs_on && parse_runs_on(a->runs_on, !a->to_core, o, b->runs_on_core, b->runs_on_script, b->runs_on))
        return "--runs-on must list 1 to 8 versions: V1103,V1104 (scripts only) or "
               "1.0.1,1.0.2 (core only)";
    if (a->max_s && parse_u32(a->max_s, &o->max_size)) return "--max-size must be a positive number";
    uint32_t fmt;
    if (a->delta_format && (!a->from_core || parse_u32(a->delta_format, &fmt) || fmt < 3 || fmt > 5))
        return "--delta-format must be 3, 4 or 5, with --from-core";
    return NULL;
}

/* The core delta from --from-core to --to-core, next to the output (removed
 * after packaging). */
static int make_core_delta(const build_args *a, fota_pkg_build_opts *o, build_bufs *b)
{
    uint64_t new_len = 0, dl = 0;
    int n = snprintf(b->delta_path, sizeof b->delta_path, "%s.delta.tmp", a->out);
    int rc = n < 0 || (size_t)n >= sizeof b->delta_path ? FOTA_ERR_ARG : 0;
    if (rc == 0) rc = fota_sha256_file(a->from_core, FOTA_PKG_MAX_IMAGE, b->base_sha, NULL);
    if (rc == 0) rc = fota_sha256_file(a->to_core, FOTA_PKG_MAX_IMAGE, b->new_sha, &new_len);
    if (rc == 0 && new_len == 0) rc = FOTA_ERR_ARG;
    /* a device whose applier takes version 5 only (FOTA_DELTA_V5_ONLY) needs --delta-format 5 */
    fota_delta_options opt = {0, 0, 0, 0, 0};
    uint32_t fmt = 0;
    if (a->delta_format && parse_u32(a->delta_format, &fmt) == 0) opt.version = fmt;
    if (rc == 0) rc = fota_delta_create_file(a->from_core, a->to_core, b->delta_path, &opt, &dl);
    if (rc) {
        fprintf(stderr, "fotapack build: cannot make the core delta: %s\n", fota_pkg_errname(rc));
        return rc == FOTA_ERR_ARG ? EXIT_USAGE : EXIT_IOERR;
    }
    o->core_type = FOTA_PKG_SEC_CORE_DELTA;
    o->core_path = b->delta_path;
    o->base_sha256 = b->base_sha;
    o->core_image_len = (uint32_t)new_len;
    o->core_image_sha256 = b->new_sha;
    return EXIT_OK;
}

static int read_sign_key(const build_args *a, fota_pkg_build_opts *o, build_bufs *b)
{
    if (!(b->key_pem = malloc(MAX_KEY_FILE)))
        return EXIT_IOERR;
    if (read_text(a->key, b->key_pem, MAX_KEY_FILE)) {
        fprintf(stderr, "fotapack build: cannot read key %s\n", a->key);
        return EXIT_IOERR;
    }
    o->sign_key_pem = b->key_pem;
    return EXIT_OK;
}

/* The script archive from --script, next to the output (removed after packaging). */
static int pack_scripts(const build_args *a, fota_pkg_build_opts *o, build_bufs *b)
{
    char why[PATH_CAP + 80];
    int rc, n = snprintf(b->arc_path, sizeof b->arc_path, "%s.arc.tmp", a->out);
    o->script_archive_path = b->arc_path;
    if (n < 0 || (size_t)n >= sizeof b->arc_path)
        return EXIT_USAGE;
    if ((rc = fota_arc_pack_path(a->script, b->arc_path, why, sizeof why)) != 0) {
        fprintf(stderr, "fotapack build: scripts: %s\n", why[0] ? why : fota_pkg_errname(rc));
        return rc == FOTA_ERR_ARG ? EXIT_USAGE : EXIT_IOERR;
    }
    return EXIT_OK;
}

static int write_package(const build_args *a, const fota_pkg_build_opts *o)
{
    uint32_t total = 0;
    int rc = fota_pkg_build(o, a->out, &total);
    if (rc == FOTA_PKG_E_TOO_LARGE) {
        fprintf(stderr, "fotapack build: package would be %lu bytes, %lu bytes over the "
                        "limit of %lu (--max-size)\n",
                (unsigned long)total, (unsigned long)(total - o->max_size), (unsigned long)o->max_size);
        return EXIT_REJECTED;
    }
    if (rc == FOTA_ERR_ARG) {
        fprintf(stderr, "fotapack build: bad input (key not P-256 PEM, empty core image, "
                        "or name too long)\n");
        return EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "fotapack build: failed: %s\n", fota_pkg_errname(rc));
        return EXIT_IOERR;
    }
    printf("wrote %s: %lu bytes (limit %lu)%s\n", a->out, (unsigned long)total,
           (unsigned long)o->max_size, a->key ? ", signed" : ", unsigned");
    return EXIT_OK;
}

static int cmd_build(int argc, char **argv)
{
    build_args a;
    build_bufs b;
    fota_pkg_build_opts o;
    const char *why;
    int ret = parse_build_args(argc, argv, &a);

    if (ret < 0) { fputs(usage_build, stdout); return EXIT_OK; }
    if (ret != EXIT_OK) return ret;
    memset(&b, 0, sizeof b);
    if ((why = build_options(&a, &o, &b)) != NULL) {
        fprintf(stderr, "fotapack build: %s\n", why);
        return EXIT_USAGE;
    }
    if (a.from_core && (ret = make_core_delta(&a, &o, &b)) != EXIT_OK)
        return ret;
    if (a.key) ret = read_sign_key(&a, &o, &b);
    if (ret == EXIT_OK && a.script) ret = pack_scripts(&a, &o, &b);
    if (ret == EXIT_OK) ret = write_package(&a, &o);
    if (b.arc_path[0]) fota_port_remove(b.arc_path);
    if (b.delta_path[0]) fota_port_remove(b.delta_path);
    if (b.key_pem) {
        memset(b.key_pem, 0, MAX_KEY_FILE);
        free(b.key_pem);
    }
    return ret;
}

/* ------------------------------------------------------------------ */
/* inspect                                                             */

static const char *type_name(unsigned t)
{
    switch (t) {
    case FOTA_PKG_SEC_CORE_DELTA: return "core_delta";
    case FOTA_PKG_SEC_CORE_FULL: return "core_full";
    case FOTA_PKG_SEC_SCRIPT: return "script";
    default: return "unknown";
    }
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_text(const char *file, const fota_pkg_info *in, int verdict)
{
    char h[65];
    printf("file:            %s\n", file);
    printf("format version:  %u\n", in->format_version);
    printf("total length:    %lu\n", (unsigned long)in->total_len);
    printf("signed:          %s\n", in->is_signed ? "yes" : "no");
    printf("project:         %s\n", in->project);
    printf("firmware:        %s\n", in->firmware);
    printf("bsp:             %s\n", in->bsp);
    if (in->to_core_version) printf("core version:    V%lu\n", (unsigned long)in->to_core_version);
    if (in->from_core_version) printf("from core:       V%lu\n", (unsigned long)in->from_core_version);
    if (!all_zero(in->base_sha256, 32)) {
        fota_hex(in->base_sha256, 32, h);
        printf("base sha256:     %s\n", h);
    }
    if (in->script_version[0]) printf("script version:  %s\n", in->script_version);
    printf("release:         V%lu + %s%s\n", (unsigned long)in->release_core_version,
           in->release_script_version, in->reinstall ? " (reinstall)" : "");
    for (unsigned i = 0; i < in->runs_on_count; i++) {
        if (in->to_core_version) printf("runs on script:  %s\n", in->runs_on_script[i]);
        else printf("runs on core:    V%lu\n", (unsigned long)in->runs_on_core[i]);
    }
    for (unsigned i = 0; i < in->section_count; i++) {
        const fota_pkg_section *s = &in->sections[i];
        fota_hex(s->sha256, 32, h);
        printf("section %u:       %s offset %lu length %lu decoded %lu sha256 %s\n", i,
               type_name(s->type), (unsigned long)s->offset, (unsigned long)s->length,
               (unsigned long)s->decoded_length, h);
    }
    fota_hex(in->sha256, 32, h);
    printf("package sha256:  %s\n", h);
    printf("integrity:       %s\n", verdict ? fota_pkg_errname(verdict) : "ok");
}

static void print_json(const char *file, const fota_pkg_info *in, int verdict)
{
    char h[65];
    printf("{\"file\":");
    json_str(file);
    printf(",\"format_version\":%u,\"total_len\":%lu,\"signed\":%s", in->format_version,
           (unsigned long)in->total_len, in->is_signed ? "true" : "false");
    /* Metadata strings are [A-Za-z0-9._-] by format, but escape anyway. */
    printf(",\"project\":");
    json_str(in->project);
    printf(",\"firmware\":");
    json_str(in->firmware);
    printf(",\"bsp\":");
    json_str(in->bsp);
    printf(",\"from_core_version\":%lu", (unsigned long)in->from_core_version);
    if (all_zero(in->base_sha256, 32)) {
        printf(",\"base_sha256\":null");
    } else {
        fota_hex(in->base_sha256, 32, h);
        printf(",\"base_sha256\":\"%s\"", h);
    }
    printf(",\"to_core_version\":%lu,\"script_version\":", (unsigned long)in->to_core_version);
    if (in->script_version[0]) json_str(in->script_version);
    else printf("null");
    printf(",\"release_core_version\":%lu,\"release_script_version\":",
           (unsigned long)in->release_core_version);
    json_str(in->release_script_version);
    printf(",\"reinstall\":%s,\"runs_on\":[", in->reinstall ? "true" : "false");
    for (unsigned i = 0; i < in->runs_on_count; i++) {
        if (i) putchar(',');
        if (in->to_core_version) json_str(in->runs_on_script[i]);
        else printf("%lu", (unsigned long)in->runs_on_core[i]);
    }
    printf("],\"sections\":[");
    for (unsigned i = 0; i < in->section_count; i++) {
        const fota_pkg_section *s = &in->sections[i];
        fota_hex(s->sha256, 32, h);
        printf("%s{\"type\":\"%s\",\"type_id\":%u,\"offset\":%lu,\"length\":%lu,"
               "\"decoded_length\":%lu,\"sha256\":\"%s\"}",
               i ? "," : "", type_name(s->type), s->type, (unsigned long)s->offset,
               (unsigned long)s->length, (unsigned long)s->decoded_length, h);
    }
    fota_hex(in->sha256, 32, h);
    printf("],\"sha256\":\"%s\",\"integrity\":\"%s\"}\n", h, verdict ? fota_pkg_errname(verdict) : "ok");
}

static int cmd_inspect(int argc, char **argv)
{
    const char *file = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(usage_inspect, stdout); return EXIT_OK; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "fotapack inspect: unexpected '%s'\n%s", argv[i], usage_inspect);
            return EXIT_USAGE;
        } else file = argv[i];
    }
    if (!file) {
        fputs(usage_inspect, stderr);
        return EXIT_USAGE;
    }
    /* Show any size of package; only structure and hashes are judged. */
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    pol.max_size = UINT32_MAX;
    fota_pkg_reader r;
    int rc = fota_pkg_open_file(&r, file, UINT32_MAX);
    if (rc) {
        if (json) {
            printf("{\"file\":");
            json_str(file);
            printf(",\"error\":\"%s\"}\n", fota_pkg_errname(rc));
        }
        fprintf(stderr, "fotapack inspect: %s: %s\n", file, fota_pkg_errname(rc));
        return EXIT_REJECTED;
    }
    int verdict = fota_pkg_verify(&r, &pol);
    if (json) print_json(file, &r.info, verdict);
    else print_text(file, &r.info, verdict);
    fota_pkg_close(&r);
    return verdict ? EXIT_REJECTED : EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* verify                                                              */

/* read_core / read_old over a file opened through port.h. */
static int read_port_file(void *ud, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    int rc = fota_port_pread((fota_port_file *)ud, off, buf, len, &got);
    return rc ? rc : got == len ? 0 : FOTA_ERR_IO;
}

static int cmd_verify(int argc, char **argv)
{
    const char *file = NULL, *pub = NULL, *base = NULL, *max_s = NULL;
    const char *core_ver = NULL, *script_ver = NULL;
    int allow_rollback = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) { fputs(usage_verify, stdout); return EXIT_OK; }
        if (!strcmp(a, "--allow-rollback")) { allow_rollback = 1; continue; }
        const char **slot = NULL;
        if (!strcmp(a, "--pubkey")) slot = &pub;
        else if (!strcmp(a, "--base")) slot = &base;
        else if (!strcmp(a, "--max-size")) slot = &max_s;
        else if (!strcmp(a, "--core-version")) slot = &core_ver;
        else if (!strcmp(a, "--script-version")) slot = &script_ver;
        else if (a[0] != '-' && !file) { file = a; continue; }
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "fotapack verify: %s '%s'\n%s", slot ? "missing value for" : "unexpected",
                    a, usage_verify);
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (!file) {
        fputs(usage_verify, stderr);
        return EXIT_USAGE;
    }
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    pol.allow_rollback = allow_rollback;
    if (max_s && parse_u32(max_s, &pol.max_size)) {
        fprintf(stderr, "fotapack verify: --max-size must be a positive number\n");
        return EXIT_USAGE;
    }
    if (core_ver && fota_version_parse_core(core_ver, &pol.current_core_version)) {
        fprintf(stderr, "fotapack verify: --core-version must look like V1103 or 1103\n");
        return EXIT_USAGE;
    }
    if (script_ver && !fota_version_valid(script_ver)) {
        fprintf(stderr, "fotapack verify: --script-version must be X.Y.Z\n");
        return EXIT_USAGE;
    }
    pol.current_script_version = script_ver;
    fota_port_file *base_f = NULL;
    if (base) {
        if (fota_sha256_file(base, FOTA_PKG_MAX_IMAGE, pol.current_core_sha256, &pol.core_size) ||
            fota_port_open(&base_f, base, FOTA_PORT_READ)) {
            fprintf(stderr, "fotapack verify: cannot read base %s\n", base);
            return EXIT_IOERR;
        }
        pol.has_current_core_sha256 = 1;
        pol.read_core = read_port_file;
        pol.core_ud = base_f;
    }
    char *keybuf = NULL;
    if (pub) {
        keybuf = malloc(MAX_KEY_FILE);
        if (!keybuf || read_text(pub, keybuf, MAX_KEY_FILE)) {
            fprintf(stderr, "fotapack verify: cannot read public key %s\n", pub);
            free(keybuf);
            return EXIT_IOERR;
        }
        pol.pubkey_pem = keybuf;
    }
    fota_pkg_info info;
    int rc = fota_pkg_verify_file(file, &pol, &info);
    free(keybuf);
    if (base_f) fota_port_close(base_f);
    if (rc == FOTA_ERR_ARG) {
        fprintf(stderr, "fotapack verify: %s is not a P-256 public key (PEM)\n", pub ? pub : "key");
        return EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "FAIL: %s\n", fota_pkg_errname(rc));
        return EXIT_REJECTED;
    }
    printf("OK%s\n", info.signature_verified ? " (signature verified)"
                     : info.is_signed ? " (signed, not checked: no --pubkey)" : " (unsigned)");
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* keygen                                                              */

static int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL, *pub = NULL;
    int force = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) { fputs(usage_keygen, stdout); return EXIT_OK; }
        if (!strcmp(a, "--force")) { force = 1; continue; }
        const char **slot = NULL;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) slot = &out;
        else if (!strcmp(a, "--pub")) slot = &pub;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "fotapack keygen: %s '%s'\n%s", slot ? "missing value for" : "unknown option",
                    a, usage_keygen);
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (!out) {
        fputs(usage_keygen, stderr);
        return EXIT_USAGE;
    }
    if (!force && fota_port_exists(out)) {
        fprintf(stderr, "fotapack keygen: %s exists (use --force to replace it)\n", out);
        return EXIT_USAGE;
    }
    char priv[2048], pubpem[1024];
    int rc = fota_sig_keygen(priv, sizeof priv, pubpem, sizeof pubpem);
    if (rc) {
        fprintf(stderr, "fotapack keygen: failed: %s\n", fota_pkg_errname(rc));
        return EXIT_IOERR;
    }
    mode_t old = umask(077);   /* the private key must not be readable by others */
    fota_port_remove(out);     /* a replaced file gets the new mode */
    rc = write_text(out, priv);
    umask(old);
    memset(priv, 0, sizeof priv);
    if (rc == 0 && pub) rc = write_text(pub, pubpem);
    if (rc) {
        fprintf(stderr, "fotapack keygen: cannot write key files\n");
        return EXIT_IOERR;
    }
    printf("wrote %s%s%s\n", out, pub ? " and " : "", pub ? pub : "");
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* delta / patch                                                       */

static int three_args(int argc, char **argv, const char *usage, const char *cmd)
{
    for (int i = 0; i < argc; i++)
        if (is_help(argv[i])) { fputs(usage, stdout); return -1; }
    if (argc != 3) {
        fprintf(stderr, "fotapack %s: needs three files\n%s", cmd, usage);
        return EXIT_USAGE;
    }
    return 0;
}

/* A number in C notation (0x.. or decimal) below 2^32. */
static int parse_addr(const char *s, uint32_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int cmd_delta(int argc, char **argv)
{
    fota_delta_options opt = {0, 0, 0, 0, 0};
    uint32_t wbits = 0, format = 0;
    while (argc >= 2 && argv[0][0] == '-') {
        const char *bad = NULL;
        if (!strcmp(argv[0], "--base-address")) {
            if (parse_addr(argv[1], &opt.base_address)) bad = "--base-address must be a number below 2^32";
            opt.has_base = 1;
        } else if (!strcmp(argv[0], "--window-bits")) {
            if (parse_u32(argv[1], &wbits) || wbits < FOTA_DELTA_MIN_WBITS || wbits > FOTA_DELTA_MAX_WBITS)
                bad = "--window-bits must be 9..15";
        } else if (!strcmp(argv[0], "--format")) {
            if (parse_u32(argv[1], &format) || format < 3 || format > 5) bad = "--format must be 3, 4 or 5";
        } else {
            break;   /* -h, --help or an unknown option: three_args answers */
        }
        if (bad) {
            fprintf(stderr, "fotapack delta: %s\n", bad);
            return EXIT_USAGE;
        }
        argc -= 2;
        argv += 2;
    }
    opt.window_bits = wbits;
    opt.version = format;
    int u = three_args(argc, argv, usage_delta, "delta");
    if (u) return u < 0 ? EXIT_OK : u;
    uint64_t len = 0;
    int rc = fota_delta_create_file(argv[0], argv[1], argv[2], &opt, &len);
    if (rc) {
        fprintf(stderr, "fotapack delta: failed: %s\n", rc == FOTA_ERR_RANGE ? "image over 16 MiB"
                                                     : fota_pkg_errname(rc));
        return EXIT_IOERR;
    }
    printf("wrote %s: %llu bytes\n", argv[2], (unsigned long long)len);
    return EXIT_OK;
}

static int cmd_patch(int argc, char **argv)
{
    uint32_t wbits = FOTA_DELTA_MAX_WBITS;
    if (argc >= 2 && !strcmp(argv[0], "--window-bits")) {
        if (parse_u32(argv[1], &wbits) || wbits < FOTA_DELTA_MIN_WBITS || wbits > FOTA_DELTA_MAX_WBITS) {
            fprintf(stderr, "fotapack patch: --window-bits must be 9..15\n");
            return EXIT_USAGE;
        }
        argc -= 2;
        argv += 2;
    }
    int u = three_args(argc, argv, usage_patch, "patch");
    if (u) return u < 0 ? EXIT_OK : u;
    uint64_t len = 0;
    int rc = fota_delta_apply_file(argv[0], argv[1], argv[2], wbits, &len, NULL);
    if (rc && fota_delta_errname(rc)) {
        fprintf(stderr, "FAIL: %s\n", fota_delta_errname(rc));
        return EXIT_REJECTED;
    }
    if (rc) {
        fprintf(stderr, "fotapack patch: failed: %s\n", fota_pkg_errname(rc));
        return EXIT_IOERR;
    }
    printf("wrote %s: %llu bytes\n", argv[2], (unsigned long long)len);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "build")) return cmd_build(argc - 2, argv + 2);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 2, argv + 2);
    if (!strcmp(cmd, "verify")) return cmd_verify(argc - 2, argv + 2);
    if (!strcmp(cmd, "keygen")) return cmd_keygen(argc - 2, argv + 2);
    if (!strcmp(cmd, "delta")) return cmd_delta(argc - 2, argv + 2);
    if (!strcmp(cmd, "patch")) return cmd_patch(argc - 2, argv + 2);
    fprintf(stderr, "fotapack: unknown command '%s'\n\n%s", cmd, usage_main);
    return EXIT_USAGE;
}
