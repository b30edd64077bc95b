#include "core/fota_err.h"

const char *fota_strerror(int err)
{
    switch (err) {
    case FOTA_OK: return "ok";
    case FOTA_ERR_IO: return "storage i/o error";
    case FOTA_ERR_NOMEM: return "out of memory";
    case FOTA_ERR_ARG: return "bad argument";
    case FOTA_ERR_STATE: return "not valid in this state";
    case FOTA_ERR_RANGE: return "length or offset out of bounds";
    case FOTA_ERR_FORMAT: return "bad data format";
    case FOTA_ERR_NOENT: return "no such file";
    case FOTA_ERR_POWER: return "power cut (simulated)";
    default: return "unknown error";
    }
}
