/* Upgrade package ("LFPK"): the format's constants, the streaming reader and
 * the verifier (hash, signature, sections, policy), section streams, delta
 * application and script extraction. See docs/package-format.md; the
 * writer is pkg_build.h, the script archive inside is archive.h.
 *
 * No Lua, no printing, no global state: every call works on caller-owned
 * context structs. All file access goes through port.h. Functions return 0
 * or a negative code: FOTA_PKG_E_* for package verdicts, fota_err values
 * (fota_err.h) for caller mistakes and resource failures. */
#ifndef FOTA_PKG_H
#define FOTA_PKG_H

#include <stddef.h>
#include <stdint.h>
#include <mbedtls/sha256.h>

#include "core/delta.h"
#include "core/inflate.h"
#include "port/port.h"

/* ---- fixed prefix (staging reads only these 12 bytes; never change) ---- */
#define FOTA_PKG_MAGIC "LFPK"
#define FOTA_PKG_PREFIX_LEN 12
#define FOTA_PKG_FORMAT_VERSION 2           /* 2: metadata names the release (v1 refused) */
#define FOTA_PKG_FLAG_SIGNED 0x0001u
#define FOTA_PKG_META_REINSTALL 0x01u       /* metadata flags: a same-release reinstall */

/* ---- bounds ---- */
#define FOTA_PKG_DEFAULT_MAX_SIZE 491520u   /* 480 KiB */
/* The script area of an Air780E-class (EC618) module's LuatOS firmware:
 * LUAT_SCRIPT_SIZE 128 (KiB) in its luat_conf_bsp.h (luatos-soc-2022);
 * the files of a script section may add up to this much. */
#define FOTA_PKG_DEFAULT_SCRIPT_AREA 131072u

#define FOTA_PKG_MAX_STR 127                /* metadata strings, bytes */
#define FOTA_PKG_MAX_SECTIONS 2             /* one core, one script */
#define FOTA_PKG_MAX_IMAGE (16u * 1024 * 1024) /* decoded core / script image */
#define FOTA_PKG_HEADER_LEN 16              /* prefix + meta_len + count + reserved */
#define FOTA_PKG_MAX_META 1024
#define FOTA_PKG_MAX_RUNS_ON 8              /* versions a partial package pairs with */
#define FOTA_PKG_MAX_RUNS_ON_STR 31         /* a script version the boot record can hold */
#define FOTA_PKG_SECTION_ENTRY_LEN 48
#define FOTA_PKG_HASH_LEN 32
#define FOTA_PKG_SIG_ALG_ECDSA_P256 1       /* raw r||s over the package hash */
#define FOTA_PKG_SIG_RAW_LEN 64
#define FOTA_PKG_SIG_BLOCK_LEN (4 + FOTA_PKG_SIG_RAW_LEN)
#define FOTA_PKG_MAX_HEADER (FOTA_PKG_HEADER_LEN + FOTA_PKG_MAX_META + \
                             FOTA_PKG_MAX_SECTIONS * FOTA_PKG_SECTION_ENTRY_LEN)
/* Smallest well-formed package: 1-byte names, release "0.0.0", a script-only
 * package running on one core, one 1-byte section. */
#define FOTA_PKG_MIN_META 58
#define FOTA_PKG_MIN_LEN (FOTA_PKG_HEADER_LEN + FOTA_PKG_MIN_META + FOTA_PKG_SECTION_ENTRY_LEN + 1 + \
                          FOTA_PKG_HASH_LEN)

/* Section types. Anything else is refused, never skipped. */
enum fota_pkg_section_type {
    FOTA_PKG_SEC_CORE_DELTA = 1,  /* LFDL binary delta against the base core (delta.h) */
    FOTA_PKG_SEC_CORE_FULL = 2,   /* whole core image, stored */
    FOTA_PKG_SEC_SCRIPT = 3       /* LFSA script archive, zlib (RFC 1950) */
};

/* Stable verdict codes; names from fota_pkg_errname(). */
enum fota_pkg_err {
    FOTA_PKG_E_BAD_MAGIC = -200,
    FOTA_PKG_E_BAD_VERSION = -201,    /* format version newer (or 0) */
    FOTA_PKG_E_TRUNCATED = -202,
    FOTA_PKG_E_TOO_LARGE = -203,
    FOTA_PKG_E_BAD_SECTION = -204,    /* unknown type, bad length/offset, bad content */
    FOTA_PKG_E_HASH_MISMATCH = -205,
    FOTA_PKG_E_BAD_SIGNATURE = -206,
    FOTA_PKG_E_NO_SIGNATURE = -207,   /* policy requires one */
    FOTA_PKG_E_WRONG_BASE = -208,     /* delta base is not the running core */
    FOTA_PKG_E_ROLLBACK = -209,
    FOTA_PKG_E_BAD_META = -210,
    FOTA_PKG_E_IO = -211,
    FOTA_PKG_E_WRONG_PAIR = -212,     /* the resulting core + script pair is not named */
    FOTA_PKG_E_SAME_RELEASE = -213,   /* the running release again, not marked reinstall */
    /* a script archive that could not boot (archive.h's FOTA_ARC_E_*): */
    FOTA_PKG_E_NAME_CLASH = -214,     /* a file's name is also another's directory */
    FOTA_PKG_E_MAIN_NOT_TOP = -215,   /* a main.lua below the top */
    FOTA_PKG_E_PATH_TOO_DEEP = -216,  /* more than FOTA_ARC_MAX_DEPTH directories */
    FOTA_PKG_E_SCRIPTS_TOO_LARGE = -217, /* the files' bytes exceed the policy's script area */
    /* a device provisioned with a signing key (slots.h) fails closed: */
    FOTA_PKG_E_KEY_MISSING = -230,    /* its trusted key file is missing, empty or unreadable */
    FOTA_PKG_E_KEY_CHANGED = -231     /* the key given is not the provisioned one */
};

/* "bad_magic", "bad_version", ... "io" for FOTA_PKG_E_*; "ok" for 0; short
 * names for fota_err codes ("bad_arg", "nomem", ...); "unknown" otherwise. */
const char *fota_pkg_errname(int code);
/* 1 when code is a verdict on the package itself (FOTA_PKG_E_* but io):
 * the package will never pass and may be thrown away. */
int fota_pkg_refused(int code);

/* Parses the 12-byte prefix. Returns 0, FOTA_PKG_E_BAD_MAGIC,
 * FOTA_PKG_E_BAD_VERSION, or FOTA_PKG_E_BAD_META (unknown flag bits or a
 * total length below FOTA_PKG_MIN_LEN). Outputs may be NULL. */
int fota_pkg_parse_prefix(const uint8_t p[FOTA_PKG_PREFIX_LEN], uint32_t *total_len,
                          uint16_t *version, uint16_t *flags);

/* 1 if s (len bytes) is a valid metadata string: 1..127 of [A-Za-z0-9._-],
 * safe as a file name, in JSON and in log lines without escaping. */
int fota_pkg_meta_str_ok(const char *s, size_t len);

/* ---- package info ---- */
typedef struct fota_pkg_section {
    uint8_t type;                 /* enum fota_pkg_section_type */
    uint32_t offset;              /* of the stored bytes, from file start */
    uint32_t length;              /* stored bytes */
    uint32_t decoded_length;      /* core image / uncompressed archive bytes */
    uint8_t sha256[32];           /* of the decoded content */
} fota_pkg_section;

typedef struct fota_pkg_info {
    uint16_t format_version;
    uint16_t flags;
    uint32_t total_len;
    char project[FOTA_PKG_MAX_STR + 1];
    char firmware[FOTA_PKG_MAX_STR + 1];     /* PROJECT_LuatOS-SoC_BSP */
    char bsp[FOTA_PKG_MAX_STR + 1];
    uint32_t from_core_version;              /* 0 = none (full image / no core) */
    uint8_t base_sha256[32];                 /* zero = none */
    uint32_t to_core_version;                /* 0 = no core section */
    char script_version[FOTA_PKG_MAX_STR + 1]; /* "" = no script section */
    /* The release the package was built from, and what a partial package may
     * be paired with: core versions for a script-only package, script
     * versions for a core-only one (strictly ascending; none for a full one). */
    uint32_t release_core_version;
    char release_script_version[FOTA_PKG_MAX_STR + 1];
    int reinstall;                           /* FOTA_PKG_META_REINSTALL was set */
    unsigned runs_on_count;
    uint32_t runs_on_core[FOTA_PKG_MAX_RUNS_ON];
    char runs_on_script[FOTA_PKG_MAX_RUNS_ON][FOTA_PKG_MAX_RUNS_ON_STR + 1];
    unsigned section_count;
    fota_pkg_section sections[FOTA_PKG_MAX_SECTIONS];
    uint32_t hash_offset;                    /* package hash is stored here */
    uint8_t sha256[32];                      /* stored package hash */
    int is_signed;
    int signature_verified;                  /* set by verify when a key was given */
} fota_pkg_info;

/* Where a package is read from: a file (port.h) or memory. */
typedef struct fota_pkg_source {
    int (*read)(void *ud, uint64_t off, void *buf, size_t len, size_t *got);
    void *ud;
    uint64_t size;
} fota_pkg_source;

/* An open package. open() checks the prefix, sizes and the whole header
 * structure (no hashing); verify() does the rest. */
typedef struct fota_pkg_reader {
    fota_pkg_source src;
    fota_port_file *file;          /* owned when opened by path */
    const uint8_t *mem;            /* when opened on memory */
    size_t mem_len;
    fota_pkg_info info;
} fota_pkg_reader;

/* max_size 0 = FOTA_PKG_DEFAULT_MAX_SIZE. On failure the reader is closed
 * and r->info holds what was parsed before the error. */
int fota_pkg_open_file(fota_pkg_reader *r, const char *path, uint32_t max_size);
int fota_pkg_open_mem(fota_pkg_reader *r, const uint8_t *p, size_t len, uint32_t max_size);
int fota_pkg_open_source(fota_pkg_reader *r, const fota_pkg_source *src, uint32_t max_size);
void fota_pkg_close(fota_pkg_reader *r);

/* ---- policy and verification ---- */
typedef struct fota_pkg_policy {
    uint32_t max_size;                /* 0 = FOTA_PKG_DEFAULT_MAX_SIZE */
    uint32_t script_area;             /* 0 = FOTA_PKG_DEFAULT_SCRIPT_AREA: the device's, in bytes */
    const char *pubkey_pem;           /* NUL-terminated; NULL = signature not required */
    const char *project;              /* NULL = any; else must match (bad_meta) */
    const char *bsp;                  /* NULL = any; else must match (bad_meta) */
    /* The running release. A partial package must name the half it keeps
     * (wrong_pair); the same release again needs the reinstall flag
     * (same_release). Unknown halves skip the checks that need them. */
    uint32_t current_core_version;    /* 0 = unknown */
    int has_current_core_sha256;
    uint8_t current_core_sha256[32];
    const char *current_script_version; /* NULL = unknown */
    int allow_rollback;               /* skips only the rollback check */
    /* The current core image. When read_core is set, verify applies a core
     * delta to it into a hashing sink and checks the result's length and
     * SHA-256, so a verified package needs nothing more before commit.
     * read_core fills buf with core[off, off+len) (always within core_size)
     * and returns 0 or a negative error. NULL = the result is checked only
     * when the delta is applied (fota_pkg_apply_delta). */
    int (*read_core)(void *ud, uint64_t off, void *buf, size_t len);
    void *core_ud;
    uint64_t core_size;
} fota_pkg_policy;

void fota_pkg_policy_init(fota_pkg_policy *p);   /* everything off, default size */

/* Full verification of an open package: hash, signature, section contents
 * (core image SHA-256; script inflated, measured, hashed, archive checked,
 * its files within the script area),
 * then policy (project/bsp, base, pair, rollback, same release). Returns 0 or FOTA_PKG_E_*;
 * FOTA_ERR_ARG for an unusable policy (bad version string, unparsable key). */
int fota_pkg_verify(fota_pkg_reader *r, const fota_pkg_policy *policy);
/* open + verify + close. info_out (may be NULL) is filled even on failure
 * with whatever was parsed. I/O failures map to FOTA_PKG_E_IO. */
int fota_pkg_verify_file(const char *path, const fota_pkg_policy *policy, fota_pkg_info *info_out);
int fota_pkg_verify_mem(const uint8_t *p, size_t len, const fota_pkg_policy *policy,
                        fota_pkg_info *info_out);

/* ---- bounded section reading ---- */
/* Raw stored bytes of section idx at [off, off+len) relative to the section;
 * *got is short at the section end. */
int fota_pkg_read_section(fota_pkg_reader *r, unsigned idx, uint32_t off, void *buf,
                          size_t len, size_t *got);

/* Decoded stream of a section with a fixed buffer: the core image for
 * CORE_FULL, the inflated archive for SCRIPT, the stored delta bytes for
 * CORE_DELTA. At the end (got 0) it checks decoded length and SHA-256 (not
 * for CORE_DELTA, whose hash is of the image the delta produces) and
 * returns FOTA_PKG_E_HASH_MISMATCH / FOTA_PKG_E_BAD_SECTION on failure. */
#define FOTA_PKG_STREAM_BUF 1024
typedef struct fota_pkg_stream {
    fota_pkg_reader *r;
    unsigned idx;
    uint32_t in_off;                 /* stored bytes consumed */
    uint32_t out_len;                /* decoded bytes produced */
    int done;
    fota_inflate *z;                 /* SCRIPT: the inflater and its window, malloc()ed at open */
    uint8_t *in;                     /* SCRIPT: FOTA_PKG_STREAM_BUF stored bytes, in z's allocation */
    size_t in_pos, in_len;           /* the stored bytes read but not yet inflated */
    int z_end, err;
    mbedtls_sha256_context sha;
} fota_pkg_stream;

int fota_pkg_stream_open(fota_pkg_stream *s, fota_pkg_reader *r, unsigned idx);
int fota_pkg_stream_read(fota_pkg_stream *s, uint8_t *buf, size_t cap, size_t *got);
void fota_pkg_stream_close(fota_pkg_stream *s);

/* Applies the core delta section idx (the package should be verified
 * first) through io (delta.h): old image by read_old, new image to
 * write_new (NULL = only hash it), checking the result against the
 * section's decoded length and SHA-256. Returns 0, FOTA_PKG_E_WRONG_BASE
 * (nothing written), FOTA_PKG_E_BAD_SECTION (malformed delta, or header
 * disagreeing with the metadata), FOTA_PKG_E_HASH_MISMATCH, FOTA_PKG_E_IO
 * or a callback's negative error. The applier (about 23 KiB) is
 * malloc()ed once; nothing else is allocated. */
int fota_pkg_apply_delta(fota_pkg_reader *r, unsigned idx, const fota_delta_io *io);

/* Unpacks the script section (if any) into dest_dir through port.h.
 * Returns 0, FOTA_PKG_E_BAD_SECTION when there is no script section or the
 * archive is malformed, FOTA_PKG_E_HASH_MISMATCH, or FOTA_PKG_E_IO. The
 * content is checked as it streams, so verify the package first: a late
 * error leaves earlier files written (unpack into a scratch directory). */
int fota_pkg_extract_script(fota_pkg_reader *r, const char *dest_dir);

#endif
