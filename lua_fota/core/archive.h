/* Script archive ("LFSA"): the script files of a release as one stream
 * (docs/package-format.md): the name rule, a push parser with sinks, and
 * unpacking into a directory (the writer is the host's:
 * host/archive_pack.h). All file access goes through port.h. */
#ifndef FOTA_ARCHIVE_H
#define FOTA_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "port/port.h"

#define FOTA_ARC_MAGIC "LFSA"
#define FOTA_ARC_VERSION 1
#define FOTA_ARC_HEADER_LEN 12
#define FOTA_ARC_MAX_NAME 128
#define FOTA_ARC_MAX_ENTRIES 1024
#define FOTA_ARC_MAX_SIZE (16u * 1024 * 1024)  /* the files' bytes, added up */

/* 1 if name (len bytes) is a safe relative path: components of
 * [A-Za-z0-9._+-] separated by single '/', none empty, "." or "..". */
int fota_arc_name_ok(const char *name, size_t len);

/* An archive that verifies must also boot (docs/package-format.md), so the
 * names of the whole archive obey rules beyond one name's safety. Each has
 * its own verdict, numbered as pkg.h's FOTA_PKG_E_* of the same meaning. */
#define FOTA_ARC_MAX_DEPTH 8                /* directories above a file, at most */
#define FOTA_ARC_E_NAME_CLASH (-214)        /* a file's name is another's directory: "a", "a/b" */
#define FOTA_ARC_E_MAIN_NOT_TOP (-215)      /* a main.lua below the top: "sub/main.lua" */
#define FOTA_ARC_E_TOO_DEEP (-216)          /* more than FOTA_ARC_MAX_DEPTH directories */
#define FOTA_ARC_E_TOO_LARGE (-217)         /* the files' bytes exceed the script area */

/* The rules over all names, one name at a time in archive order, in fixed
 * memory: strictly ascending (so no duplicate), and the three above. A file
 * that is a directory of a later name is found with a stack of the earlier
 * names that are prefixes of the last one (in sorted order any earlier
 * prefix of a name is still on it), so nothing grows with the entry count. */
typedef struct fota_arc_names {
    uint32_t count;
    char prev[FOTA_ARC_MAX_NAME + 1];
    size_t prev_len;
    uint8_t pfx[FOTA_ARC_MAX_NAME];   /* lengths, ascending, of earlier names that prefix prev */
    size_t pfx_n;
} fota_arc_names;

void fota_arc_names_init(fota_arc_names *st);
/* 0, FOTA_ERR_FORMAT (name not safe, not after the previous one), or
 * FOTA_ARC_E_NAME_CLASH / _MAIN_NOT_TOP / _TOO_DEEP. */
int fota_arc_names_next(fota_arc_names *st, const char *name, size_t len);

/* Push parser: feed any chunking of the archive bytes; the sink sees each
 * entry as begin(name, size), data()*, end(). Callbacks may be NULL; a
 * non-zero callback result stops parsing and is returned. Malformed input
 * (bad magic/version, name rules, unsorted/duplicate names, trailing bytes)
 * returns FOTA_ERR_FORMAT, an unbootable one a FOTA_ARC_E_* (names before
 * any byte of their entry reaches the sink); either sticks. */
typedef struct fota_arc_sink {
    int (*begin)(void *ud, const char *name, uint32_t size);
    int (*data)(void *ud, const uint8_t *p, size_t n);
    int (*end)(void *ud);
    void *ud;
} fota_arc_sink;

typedef struct fota_arc_parser {
    fota_arc_sink sink;
    int state;
    int err;
    uint8_t acc[FOTA_ARC_HEADER_LEN];
    size_t acc_len;
    uint32_t count, index, remaining;
    size_t name_len;
    char name[FOTA_ARC_MAX_NAME + 1];
    fota_arc_names names;
    uint64_t total;
    uint32_t area;
} fota_arc_parser;

void fota_arc_parser_init(fota_arc_parser *p, const fota_arc_sink *sink); /* sink may be NULL */
/* The device's script area: files adding up to more bytes are
 * FOTA_ARC_E_TOO_LARGE, found at the entry that crosses it, before its data.
 * 0 (and the default) is FOTA_ARC_MAX_SIZE, the format's own bound, whose
 * excess stays FOTA_ERR_FORMAT. */
void fota_arc_parser_set_area(fota_arc_parser *p, uint32_t area);
int fota_arc_parser_feed(fota_arc_parser *p, const uint8_t *data, size_t n);
/* 0 when the archive ended exactly after its last entry, else FOTA_ERR_FORMAT. */
int fota_arc_parser_finish(fota_arc_parser *p);

/* Sink that writes entries under dest_dir through port.h. */
typedef struct fota_arc_dir_sink {
    char dir[256];
    char path[256 + 1 + FOTA_ARC_MAX_NAME + 1];
    fota_port_file *f;
    uint64_t off;
} fota_arc_dir_sink;
int fota_arc_dir_sink_init(fota_arc_dir_sink *d, const char *dest_dir, fota_arc_sink *sink_out);
void fota_arc_dir_sink_close(fota_arc_dir_sink *d);  /* closes a half-written file */

/* Unpacks an archive file into dest_dir. FOTA_ERR_FORMAT when malformed. */
int fota_arc_unpack(const char *archive_path, const char *dest_dir);

#endif
