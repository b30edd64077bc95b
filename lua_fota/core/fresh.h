/* Freshness statements: a server's signed "as of time T, until E, the
 * device D asking as version V gets answer A" (TUF's timestamp idea). A
 * device that keeps getting fresh ones knows its server is neither frozen
 * nor replaying an old answer; see docs/security.md. The statement travels
 * in the X-Fota-Fresh response header as "v=1;t=T;exp=E;sig=HEX" (T and E
 * in Unix seconds, HEX the 64-byte raw ECDSA P-256 signature, sig.h, over
 * the SHA-256 of "LFFR1\nT\nE\nD\nV\nA"). A is "code=N" for a platform
 * answer or "sha256=HEX" (the package hash, pkg.h) for a package. */
#ifndef FOTA_FRESH_H
#define FOTA_FRESH_H

#include <stddef.h>
#include <stdint.h>

#include "core/sig.h"
#include "port/port.h"

#define FOTA_FRESH_HEADER "X-Fota-Fresh"
#define FOTA_FRESH_VALUE_MAX 200      /* the header value, NUL included */
#define FOTA_FRESH_FIELD_MAX 96       /* device, version or answer, bytes */
#define FOTA_FRESH_TIME_MAX 999999999999LL   /* 12 digits: far beyond any clock */

/* Verdicts; names from fota_fresh_errname(). */
enum fota_fresh_err {
    FOTA_FRESH_E_FORMAT = -300,       /* not "v=1;t=..;exp=..;sig=.." or a field out of bounds */
    FOTA_FRESH_E_SIGNATURE = -301,    /* not signed by the key for this device, version, answer */
    FOTA_FRESH_E_EXPIRED = -302,      /* now is after exp */
    FOTA_FRESH_E_FUTURE = -303        /* t is later than now + skew */
};

typedef struct fota_fresh {
    int64_t time, expires;
} fota_fresh;

const char *fota_fresh_errname(int code);   /* "bad_format", ..., "ok"; NULL when not ours */

/* Writes the header value for (t, exp, device, version, answer) signed with
 * a private key into out (FOTA_FRESH_VALUE_MAX). 0, FOTA_ERR_ARG (a field
 * empty, too long, or holding a line break; t or exp out of range, exp < t)
 * or FOTA_ERR_IO (signing failed). */
int fota_fresh_sign(fota_sig_key *key, int64_t t, int64_t exp, const char *device,
                    const char *version, const char *answer, char out[FOTA_FRESH_VALUE_MAX]);

/* Checks a header value against a public key and what the device asked and
 * heard, at time now, allowing skew seconds of clock difference for t.
 * 0 (out filled, may be NULL) or FOTA_FRESH_E_*; FOTA_ERR_ARG for a bad field. */
int fota_fresh_check(fota_sig_key *key, const char *value, const char *device, const char *version,
                     const char *answer, int64_t now, int64_t skew, fota_fresh *out);

/* The device's record of its last fresh statement: a 20-byte file ("LFFS",
 * then time and expiry as u64 little-endian). save writes it under a
 * temporary name, syncs it and renames it over the old one (a cut leaves
 * the old or the new record); load gives 0, FOTA_ERR_NOENT or
 * FOTA_ERR_FORMAT (torn or foreign: no record). */
#define FOTA_FRESH_RECORD_LEN 20
int fota_fresh_save(const char *path, const fota_fresh *f);
int fota_fresh_load(const char *path, fota_fresh *f);

#endif
