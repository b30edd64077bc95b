/* The staging area: where a package is written as it arrives, the way
 * LuatOS's fota.init/run/isDone/finish stage it. The package's 12-byte
 * prefix carries its total length, so completion is known from the data
 * itself; the capacity bounds what a sender can make us write. */
#ifndef FOTA_STAGE_H
#define FOTA_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include "core/pkg.h"
#include "port/port.h"

#define FOTA_STAGE_PATH_MAX 512
#define FOTA_STAGE_DEFAULT_CAPACITY (480u * 1024u)

enum fota_stage_state {
    FOTA_STAGE_IDLE,       /* no init yet, or finished */
    FOTA_STAGE_RECEIVING,  /* init done, package not complete */
    FOTA_STAGE_COMPLETE,   /* all bytes the prefix announced are stored */
    FOTA_STAGE_READY,      /* complete, synced and marked ready by finish(true) */
    FOTA_STAGE_FAILED      /* an error happened; finish(false) or init again */
};

typedef struct {
    char path[FOTA_STAGE_PATH_MAX];
    fota_port_file *file;
    uint32_t capacity;
    uint32_t written;
    uint32_t total;        /* 0 until the prefix is in */
    uint8_t prefix[FOTA_PKG_PREFIX_LEN];
    enum fota_stage_state state;
    int error;             /* the error that moved us to FAILED */
} fota_stage;

void fota_stage_setup(fota_stage *s);
/* Starts a new package at path (emptied), accepting at most capacity bytes. */
int fota_stage_init(fota_stage *s, const char *path, uint32_t capacity);
/* Reopens a partly received package at path to go on appending (resume of
 * a cut download). The prefix, if stored, is checked again. */
int fota_stage_resume(fota_stage *s, const char *path, uint32_t capacity);
/* Appends data. Returns the bytes still expected (> 0; 1 while the total is
 * unknown), 0 when the package is complete, or a negative error. */
long fota_stage_write(fota_stage *s, const uint8_t *data, size_t len);
/* > 0 still receiving, 0 complete (or ready), < 0 failed (the error). */
long fota_stage_done(const fota_stage *s);
/* ok: the package must be complete; it is synced and the ready marker
 * "<path>.ready" written (again: no-op). !ok: the staged data and its
 * marker are discarded. */
int fota_stage_finish(fota_stage *s, int ok);
void fota_stage_free(fota_stage *s);

/* Path of the marker that says a complete package is staged. */
int fota_stage_ready_path(const char *path, char *out, size_t outlen);
/* Path of a cut download's resume record (URL and validator) beside it. */
int fota_stage_part_path(const char *path, char *out, size_t outlen);
/* Removes a staged package with its ready marker and resume record;
 * FOTA_OK, or the first removal that failed. */
int fota_stage_discard(const char *path);

#endif
