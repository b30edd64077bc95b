/* Error codes shared by the core. 0 is success; negatives are failures.
 * HTTP transfer results use LuatOS's http.request codes (see http.h) so the
 * Lua layer can hand them to scripts unchanged. */
#ifndef FOTA_ERR_H
#define FOTA_ERR_H

enum fota_err {
    FOTA_OK = 0,
    FOTA_ERR_IO = -100,      /* read/write/sync on storage failed */
    FOTA_ERR_NOMEM = -101,   /* allocation failed or would exceed a bound */
    FOTA_ERR_ARG = -102,     /* bad argument from the caller */
    FOTA_ERR_STATE = -103,   /* call not valid in the current state */
    FOTA_ERR_RANGE = -104,   /* a length or offset out of bounds */
    FOTA_ERR_FORMAT = -105,  /* data does not parse */
    FOTA_ERR_NOENT = -106,   /* file does not exist */
    FOTA_ERR_POWER = -107    /* simulated power cut (fault injection) */
};

const char *fota_strerror(int err);

#endif
