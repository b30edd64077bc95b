/* fota-server export DIR (export.c), a command of the CLI like cli.h's:
 * the content-addressed package files a static package host serves
 * (serve --package-url). */
#ifndef FOTA_SRV_EXPORT_H
#define FOTA_SRV_EXPORT_H

#include "db.h"

/* key_path: the server's signing key (as serve --key), NULL = unsigned;
 * max_size as serve --max-size (NULL = the default). Exit codes as util.h. */
int cmd_export(srv_db *d, const char *dir, const char *key_path, const char *max_size);

#endif
