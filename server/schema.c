/* The tables of every module, and opening the database with them (schema.h). */
#include "schema.h"

#include "at.h"
#include "console_auth.h"
#include "rollout.h"
#include "vendor.h"

int db_open(srv_db *d, const char *path, const char *data_dir, unsigned serving)
{
    const char *const parts[] = { srv_db_schema, srv_at_schema, srv_rollout_schema, srv_console_schema,
                                  srv_vendor_schema };
    return db_open_schema(d, parts, sizeof parts / sizeof parts[0], path, data_dir, serving);
}
