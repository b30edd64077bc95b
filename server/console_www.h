/* The console's pages, embedded at build time (server/www/embed.cmake). */
#ifndef FOTA_SRV_CONSOLE_WWW_H
#define FOTA_SRV_CONSOLE_WWW_H

#include <stddef.h>

typedef struct console_asset {
    const char *name;             /* "index.html", "app.js", ... */
    const unsigned char *data;
    size_t len;
} console_asset;

extern const console_asset console_assets[];
extern const size_t console_asset_count;

#endif
