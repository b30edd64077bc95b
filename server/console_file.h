/* What an uploaded file is, read from its bytes (console_file.c): the
 * console fills the release form from it (GET upload/info) and refuses a
 * file that is not what its field says before anything is stored. */
#ifndef FOTA_SRV_CONSOLE_FILE_H
#define FOTA_SRV_CONSOLE_FILE_H

#include "core/pkg.h"
#include "srv.h"
#include "vendor.h"

/* Kinds (docs/server.md "Console error codes", GET upload/info):
 * "package" our signed package (LFPK), "delta" the delta tool's bare delta
 * (LFDL), "soc" Luatools' firmware archive (.soc: a zip or 7z with
 * info.json), "archive" another archive, "script" a script upload (main.lua
 * or main.luac in it), "text" another text file, "vendor" a binary whose
 * name follows a vendor tool's pattern, "core" any other binary (an image),
 * "unknown" an unreadable file. */
typedef struct console_file_info {
    const char *kind;
    char core[16];                    /* "V1105" or "" */
    char bsp[SRV_NAME_MAX + 1];       /* "EC618" or "" */
    char version[FOTA_PKG_MAX_STR + 1];   /* script version, or "" */
    char model[SRV_NAME_MAX + 1];     /* the firmware name a package or vendor file names, or "" */
    char from[SRV_VENDOR_BASES_TEXT]; /* base versions ("V1103" or "V1103,V1104"), or "" */
    char to[SRV_VER_MAX];             /* the target a vendor name says, or "" */
} console_file_info;

/* file: the upload's last file; dir: its directory; files: how many it
 * holds (a script upload has several). Fills out; never fails (unknown). */
void console_file_read(const char *dir, const char *file, int files, console_file_info *out);

#endif
