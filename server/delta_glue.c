/* The one place the server meets the binary delta engine (lua_fota/host/delta_file.h,
 * LFDL). Built against a core without it, srv_delta_available() says no and
 * build.c ships the core as a full image (section type 2); a device whose
 * base image is unknown then gets 44 only when a full package would not fit
 * (a delta is required). */
#include "core/fota_err.h"
#include "delta_glue.h"

/* FOTA_SRV_NO_DELTA: build without it anyway (to test the full-core path). */
#if defined(__has_include) && !defined(FOTA_SRV_NO_DELTA)
#if __has_include("host/delta_file.h")
#include "host/delta_file.h"
#define FOTA_SRV_HAVE_DELTA 1
#endif
#endif

int srv_delta_available(void)
{
#ifdef FOTA_SRV_HAVE_DELTA
    return 1;
#else
    return 0;
#endif
}

int srv_delta_make(const char *base_path, const char *target_path, const char *out_path)
{
#ifdef FOTA_SRV_HAVE_DELTA
    uint64_t len = 0;
    return fota_delta_create_file(base_path, target_path, out_path, NULL, &len);
#else
    (void)base_path;
    (void)target_path;
    (void)out_path;
    return FOTA_ERR_STATE;
#endif
}
