/* Core deltas for the builder and the console's delta tool (delta_glue.c),
 * on lua_fota's generator. */
#ifndef FOTA_SRV_DELTA_GLUE_H
#define FOTA_SRV_DELTA_GLUE_H

/* Whether this build can make core deltas (lua_fota/core/delta.h wired in). */
int srv_delta_available(void);
/* Writes the delta from base to target image into out_path. */
int srv_delta_make(const char *base_path, const char *target_path, const char *out_path);

#endif
