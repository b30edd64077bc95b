/* A download session: one request whose package is streamed into the
 * staging area (core/stage), the way libfota and the AT module fetch an
 * upgrade. It owns the whole path from the request to the staged package:
 *
 * - resume: when the stage holds a cut download of the same URL with a
 *   resume record, it asks "Range: bytes=<durable>-" with If-Range (the
 *   server's ETag or Last-Modified). A 206 must go on exactly there; a 200
 *   (the package changed, or the server ignores Range) starts over; a 416
 *   drops the part so that the next try starts from scratch. A package
 *   already complete is done without asking the network.
 * - the sink: a 200/206 body is written to the stage, which syncs it every
 *   FOTA_STAGE_SYNC_BYTES and keeps the resume record when the server named
 *   the package (ETag, else Last-Modified). Any other answer (the platform's
 *   JSON "no upgrade") goes to the caller's body callback; so does every
 *   answer of a session without a stage (a plain request).
 * - the conclusion: success only for a complete package; a cut connection
 *   (closed, receive error, timeout) keeps all that arrived for a resume,
 *   any other failure (bad data, a refused write) discards the part.
 *
 * Results use LuatOS http.request's codes (core/http.h). The session does
 * bounded work per fota_download_step and allocates nothing itself beyond
 * the HTTP client. Callers embed the struct and use the functions only. */
#ifndef FOTA_DOWNLOAD_H
#define FOTA_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/stage.h"

/* An answer that is not a package. Returns 0 to go on; non-zero stops the
 * transfer, after fota_download_fail() said why (else the result is
 * FOTA_HTTP_ERR_DOWNLOAD). */
typedef int (*fota_download_body_fn)(void *ud, const uint8_t *data, size_t len);

typedef struct fota_download_opts {
    /* The request (url, method, headers, body, timeouts, tls, redirects),
     * borrowed as fota_http_init says; use_range, range_start and if_range
     * are the session's. */
    fota_http_request req;
    fota_stage *stage;          /* borrowed; NULL: a plain request */
    const char *stage_path;     /* copied */
    uint32_t capacity;          /* the largest package accepted (>= FOTA_PKG_PREFIX_LEN) */
    int resume;                 /* go on from a cut download of the same URL */
    fota_download_body_fn body; /* NULL: other answers are discarded */
    void *body_ud;
} fota_download_opts;

typedef struct fota_download {
    /* private: use the functions below */
    fota_http *http;
    fota_stage *stage;
    int holds_stage;            /* the stage is ours until the session ends */
    fota_download_body_fn body;
    void *body_ud;
    int routed;                 /* the final status has been looked at */
    int into_stage;             /* this answer is the package */
    int resuming;               /* asked for Range from resume_from */
    int discarded;              /* the partial package was dropped */
    int staged_before;          /* complete before the session: no request */
    uint64_t resume_from;
    uint32_t capacity;
    int result;                 /* > 0 running, 0 done, < 0 failed */
    int cause;                  /* the FOTA_ERR_* of the stage behind a failure, or 0 */
    char errmsg[160];
    char url[FOTA_HTTP_MAX_URL + 1];
    char stage_path[FOTA_STAGE_PATH_MAX];
} fota_download;

/* Starts a session (nothing is sent before the first step). Returns 0, or
 * FOTA_HTTP_ERR_URL / _REQUEST / _STATE (fota_http_init's refusals, or bad
 * options); the session is then ended and only free is due. A zeroed
 * struct is an ended session too. */
int fota_download_init(fota_download *d, const fota_download_opts *o);

/* At most budget_ms of work; returns the result: > 0 running, 0 done,
 * < 0 failed (FOTA_HTTP_ERR_*), sticky once not running. */
int fota_download_step(fota_download *d, uint32_t budget_ms);
int fota_download_result(const fota_download *d);
/* What went wrong, for a failed session ("" otherwise). */
const char *fota_download_errmsg(const fota_download *d);
/* The stage's FOTA_ERR_* behind a failure (FOTA_ERR_FORMAT: not a package,
 * FOTA_ERR_RANGE: larger than allowed or than it announces, ...), or 0. */
int fota_download_cause(const fota_download *d);
/* Sets the result to a failure (a body callback refusing data, or the
 * caller's own storage of the answer failing after the end). */
void fota_download_fail(fota_download *d, int code, const char *msg);

/* 1 when the answer is the package (into the stage), else 0. */
int fota_download_staged(const fota_download *d);
/* The final response's status: 0 before it is in; 206 for a package that
 * was complete before the session. */
int fota_download_status(const fota_download *d);
/* The client, for the response headers (fota_http_header, _header_count,
 * _header_at, fota_http_response_info); NULL before they are in. */
const fota_http *fota_download_http(const fota_download *d);
/* Bytes of the package received (a resumed part counts) and its total, or
 * FOTA_HTTP_UNKNOWN; 0 and unknown while the answer is not the package. */
void fota_download_progress(const fota_download *d, uint64_t *done, uint64_t *total);
/* The offset the package went on from, 0 when it was fetched from scratch. */
uint64_t fota_download_resumed(const fota_download *d);
/* 1 when the stage path holds (part of) a package that a later session of
 * the same URL goes on from: a resume record names it and this session did
 * not drop it. */
int fota_download_resumable(const fota_download *d);

/* Ends the session: a running transfer stops as it is (the result becomes
 * FOTA_HTTP_ERR_STATE "closed"; what is durable stays for a resume). The
 * stage is handed back: a complete package stays open in it, else it is
 * closed. Safe to call again. */
void fota_download_free(fota_download *d);

#endif
