/* What the whole server shares (header only): the bounds every input from
 * the network or the CLI is checked against, and the platform's answer
 * codes. Each module has its own header (validate.h, db.h, build.h,
 * guard.h, api.h, ...); see docs/server.md. Everything lives in
 * caller-owned structs; the only process-wide state is the signal flag in
 * main.c. */
#ifndef FOTA_SRV_H
#define FOTA_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "core/pkg.h"

/* ---- input bounds (everything from the network is checked against these) ---- */
#define SRV_KEY_MAX 64          /* product key: [A-Za-z0-9_-] */
#define SRV_NAME_MAX FOTA_PKG_MAX_STR /* firmware / bsp: bytes */
#define SRV_PROJECT_CHARS 64    /* project name: UTF-8 characters, no controls */
#define SRV_PROJECT_MAX (SRV_PROJECT_CHARS * 4) /* its bytes */
#define SRV_OWNER_MAX 64
#define SRV_IMEI_LEN 15         /* exactly 15 digits, Luhn-valid */
#define SRV_VER_MAX 32          /* "x.y.z" */
#define SRV_VER_PART_MAX 9      /* digits per part of a version from the network */
#define SRV_URL_MAX 1024        /* path + query */
#define SRV_MSG_MAX 160
#define SRV_REQ_MAX 400         /* the request as logged */
#define SRV_PATH_MAX 1024
#define SRV_AIR_URL_MAX 512     /* serve --package-url */
#define SRV_MAX_LIST 10000      /* IMEIs or from-versions in one config */
#define SRV_LOOP_LIMIT 6        /* more requests than this a day = loop upgrade */
#define SRV_KEY_PEM_MAX 16384
#define SRV_ROLLOUT_WAVES_MAX 16  /* waves of one rollout */
#define SRV_RVER_MAX 96           /* a version as a device reports it (rollouts): CORE.x.z, or Air's CORE:x.y.z */

/* Platform answer codes (lib/fotaflow.lua PLATFORM_CODES). 0 = a package. */
enum srv_code {
    SRV_OK = 0,
    SRV_INVALID_DEVICE = 3,
    SRV_NO_PERMISSION = 17,
    SRV_VERSION_NOT_ALLOWED = 21,
    SRV_INVALID_PROJECT = 25,
    SRV_INVALID_FIRMWARE = 26,
    SRV_LATEST = 27,
    SRV_LOOP = 40,
    SRV_WAIT = 43,
    SRV_BASE_MISSING = 44,
    SRV_INTERNAL = 500          /* ours, not the platform's: the server failed */
};

#endif
