/* The database's tables (schema.c): each module registers its part (db.c
 * the store's own, at.c AT firmware, rollout.c staged rollouts,
 * console_auth.c the console's accounts and uploads); db_open makes them
 * all. The one place that knows every module's tables, so that db.c need
 * not. */
#ifndef FOTA_SRV_SCHEMA_H
#define FOTA_SRV_SCHEMA_H

#include <stddef.h>

#include "db.h"

/* db_open_schema with every part, in the order they are made (later parts
 * refer to earlier tables): what the CLI, the server and the console open.
 * Errors are printed to stderr. */
int db_open(srv_db *d, const char *path, const char *data_dir, unsigned serving);

#endif
