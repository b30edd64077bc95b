/* The staging area: where a package is written as it arrives, the way
 * LuatOS's fota.init/run/isDone/finish stage it. The package's 12-byte
 * prefix carries its total length, so completion is known from the data
 * itself; the capacity bounds what a sender can make us write.
 *
 * A download also keeps a resume record "<path>.part" (the URL, the
 * validator the server gave, and how many bytes are durable). The data is
 * synced every FOTA_STAGE_SYNC_BYTES and when complete, and the record
 * rewritten (atomically, durably) right after, so a power cut loses at most
 * the bytes since the last sync point: a resume truncates to the durable
 * count and goes on from there. The record stays until finish(). */
#ifndef FOTA_STAGE_H
#define FOTA_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include "core/pkg.h"
#include "port/port.h"

#define FOTA_STAGE_PATH_MAX 512
#define FOTA_STAGE_DEFAULT_CAPACITY (480u * 1024u)
#define FOTA_STAGE_SYNC_BYTES (64u * 1024u)
#define FOTA_STAGE_URL_MAX 2048
#define FOTA_STAGE_VALIDATOR_MAX 200   /* ETag or Last-Modified, NUL included */

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
    uint32_t synced;       /* bytes known durable */
    int has_origin;        /* a resume record is kept (fota_stage_set_origin) */
    char url[FOTA_STAGE_URL_MAX + 1];
    char validator[FOTA_STAGE_VALIDATOR_MAX];
} fota_stage;

void fota_stage_setup(fota_stage *s);
/* Starts a new package at path (emptied), accepting at most capacity bytes. */
int fota_stage_init(fota_stage *s, const char *path, uint32_t capacity);
/* Reopens a partly received package at path to go on appending (resume of
 * a cut download). The prefix, if stored, is checked again. */
int fota_stage_resume(fota_stage *s, const char *path, uint32_t capacity);
/* Names where the package comes from (after init): the resume record is
 * written now and at every sync point. url <= FOTA_STAGE_URL_MAX bytes,
 * validator shorter than FOTA_STAGE_VALIDATOR_MAX. */
int fota_stage_set_origin(fota_stage *s, const char *url, const char *validator);
/* Resume of a download of url: FOTA_OK when the record names url (its
 * validator is in s->validator); the data is cut back to the durable count
 * first. FOTA_ERR_NOENT when there is no such record (start afresh). The
 * state may be COMPLETE: nothing is left to fetch. */
int fota_stage_resume_origin(fota_stage *s, const char *path, uint32_t capacity, const char *url);
/* Appends data. Returns the bytes still expected (> 0; 1 while the total is
 * unknown), 0 when the package is complete, or a negative error. */
long fota_stage_write(fota_stage *s, const uint8_t *data, size_t len);
/* Makes every byte written so far durable and recorded, e.g. when a
 * connection breaks: the resume goes on from all that arrived. */
int fota_stage_checkpoint(fota_stage *s);
/* > 0 still receiving, 0 complete (or ready), < 0 failed (the error). */
long fota_stage_done(const fota_stage *s);
/* ok: the package must be complete; it is synced, the ready marker
 * "<path>.ready" written (again: no-op), then the resume record dropped.
 * !ok: the staged data, its marker and record are discarded. */
int fota_stage_finish(fota_stage *s, int ok);
void fota_stage_free(fota_stage *s);

/* What callers outside the core may know of a stage (they read no field). */
uint32_t fota_stage_written(const fota_stage *s);   /* bytes stored */
uint32_t fota_stage_total(const fota_stage *s);     /* the package's length, 0 until its prefix is in */
const char *fota_stage_path(const fota_stage *s);
/* The validator of the resume record (ETag or Last-Modified), NULL when
 * there is none. */
const char *fota_stage_validator(const fota_stage *s);

/* Path of the marker that says a complete package is staged. */
int fota_stage_ready_path(const char *path, char *out, size_t outlen);
/* Path of a cut download's resume record (URL and validator) beside it. */
int fota_stage_part_path(const char *path, char *out, size_t outlen);
/* Removes a staged package with its ready marker and resume record;
 * FOTA_OK, or the first removal that failed. */
int fota_stage_discard(const char *path);

#endif
