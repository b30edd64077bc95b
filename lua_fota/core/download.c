#include "core/download.h"

#include <stdio.h>
#include <string.h>

#include "core/fota_err.h"
#include "port/port.h"

void fota_download_fail(fota_download *d, int code, const char *msg)
{
    d->result = code;
    snprintf(d->errmsg, sizeof d->errmsg, "%s", msg);
}

static void set_cause(fota_download *d, int code, int cause, const char *msg)
{
    d->cause = cause;
    fota_download_fail(d, code, msg);
}

/* Hands the stage back once the session ends. A complete package stays
 * open so that the caller can check and finish it. */
static void release_stage(fota_download *d)
{
    if (!d->holds_stage)
        return;
    d->holds_stage = 0;
    if (!(d->result == 0 && d->into_stage))
        fota_stage_free(d->stage);
}

static void discard(fota_download *d)
{
    fota_stage_discard(d->stage_path);
    d->discarded = 1;
}

/* Looks at the final status before the first body byte: a package goes to
 * the stage (appended on a matching 206, from scratch otherwise), anything
 * else to the body callback. */
static int route(fota_download *d)
{
    const fota_http_response *r = fota_http_response_info(d->http);
    const char *etag, *validator;
    int rc;

    d->routed = 1;
    if (d->resuming && r->status == 416) {
        /* The part we hold is not a prefix of what the server has now: the
         * next try starts from scratch instead of asking for it again. */
        discard(d);
        d->resuming = 0;
    }
    if (!d->stage || (r->status != 200 && r->status != 206))
        return 0;
    if (r->status == 206 && d->resuming) {
        if (!r->has_range || r->range_start != d->resume_from) {
            fota_download_fail(d, FOTA_HTTP_ERR_HEADER, "206 does not continue where the partial package ends");
            return -1;
        }
        d->into_stage = 1;
        return 0;
    }
    if (r->status == 206 && (!r->has_range || r->range_start != 0)) {
        fota_download_fail(d, FOTA_HTTP_ERR_HEADER, "unrequested partial content");
        return -1;
    }
    /* A full body: the server ignored the Range or the package changed. */
    d->resuming = 0;
    if ((rc = fota_stage_init(d->stage, d->stage_path, d->capacity)) != FOTA_OK) {
        set_cause(d, FOTA_HTTP_ERR_DOWNLOAD, rc, fota_strerror(rc));
        return -1;
    }
    /* Only a package the server can name (If-Range) can be resumed. */
    etag = fota_http_header(d->http, "ETag");
    validator = etag ? etag : fota_http_header(d->http, "Last-Modified");
    if (validator && strlen(validator) < FOTA_STAGE_VALIDATOR_MAX &&
        (rc = fota_stage_set_origin(d->stage, d->url, validator)) != FOTA_OK) {
        set_cause(d, FOTA_HTTP_ERR_DOWNLOAD, rc, fota_strerror(rc));
        return -1;
    }
    d->into_stage = 1;
    return 0;
}

static int sink(void *ud, const uint8_t *data, size_t len)
{
    fota_download *d = ud;
    if (!d->routed && route(d) != 0)
        return 1;
    if (d->into_stage) {
        long r = fota_stage_write(d->stage, data, len);
        if (r < 0) {
            set_cause(d, FOTA_HTTP_ERR_FOTA, (int)r, r == FOTA_ERR_FORMAT ? "not a luat-fota package"
                      : r == FOTA_ERR_RANGE ? "package larger than allowed" : fota_strerror((int)r));
            return 1;
        }
        return 0;
    }
    return d->body ? d->body(d->body_ud, data, len) : 0;
}

/* The transfer ended at the HTTP level: a download must have a complete package. */
static void conclude(fota_download *d)
{
    char msg[96];
    if (!d->routed && route(d) != 0)
        return;
    if (!d->into_stage || fota_stage_done(d->stage) == 0) {
        d->result = 0;   /* a package's resume record stays until fota_stage_finish() */
        return;
    }
    snprintf(msg, sizeof msg, "package incomplete: %u of %u bytes", (unsigned)fota_stage_written(d->stage),
             (unsigned)fota_stage_total(d->stage));
    fota_download_fail(d, FOTA_HTTP_ERR_FOTA, msg);
}

static void finish(fota_download *d, int rc)
{
    int cut;
    if (rc == FOTA_HTTP_OK) {
        conclude(d);
    } else if (d->result > 0) {
        /* The client's own error: keep its detail. */
        const char *detail = fota_http_errmsg(d->http);
        fota_download_fail(d, rc, detail && *detail ? detail : fota_http_strerror(rc));
    }
    if (!d->stage)
        return;
    /* A cut connection keeps the part for a resume; bad data does not. */
    cut = d->result == FOTA_HTTP_ERR_CLOSE || d->result == FOTA_HTTP_ERR_RX || d->result == FOTA_HTTP_ERR_TIMEOUT;
    if (d->result < 0 && !cut && (d->into_stage || d->resuming))
        discard(d);
    else if (d->result < 0 && d->into_stage)
        fota_stage_checkpoint(d->stage);   /* keep all that arrived */
    release_stage(d);
}

/* Goes on from a cut download of the same URL when the stage has one with a
 * validator the server can check (If-Range). */
static void try_resume(fota_download *d, fota_http_request *req)
{
    if (fota_stage_resume_origin(d->stage, d->stage_path, d->capacity, d->url) == FOTA_OK &&
        fota_stage_written(d->stage) > 0 && fota_stage_done(d->stage) >= 0) {
        d->resuming = 1;
        d->resume_from = fota_stage_written(d->stage);
        req->use_range = 1;
        req->range_start = d->resume_from;
        req->if_range = fota_stage_validator(d->stage);
    } else {
        /* Nothing is dropped yet: a staged package survives a "no upgrade"
         * answer; a new package replaces it in route(). */
        fota_stage_free(d->stage);
    }
}

int fota_download_init(fota_download *d, const fota_download_opts *o)
{
    fota_http_request req = o->req;
    size_t ulen = req.url ? strlen(req.url) : 0;
    int rc;

    memset(d, 0, sizeof *d);
    d->body = o->body;
    d->body_ud = o->body_ud;
    if (ulen > FOTA_HTTP_MAX_URL) {
        fota_download_fail(d, FOTA_HTTP_ERR_URL, fota_http_strerror(FOTA_HTTP_ERR_URL));
        return FOTA_HTTP_ERR_URL;
    }
    memcpy(d->url, req.url ? req.url : "", ulen + 1);   /* fota_http_init judges it */
    req.use_range = 0;
    req.range_start = 0;
    req.if_range = NULL;
    d->result = 1;
    if (o->stage) {
        if (!o->stage_path || strlen(o->stage_path) >= sizeof d->stage_path || o->capacity < FOTA_PKG_PREFIX_LEN) {
            fota_download_fail(d, FOTA_HTTP_ERR_STATE, "bad staging path or capacity");
            return FOTA_HTTP_ERR_STATE;
        }
        memcpy(d->stage_path, o->stage_path, strlen(o->stage_path) + 1);
        d->stage = o->stage;
        d->holds_stage = 1;
        d->capacity = o->capacity;
        if (o->resume)
            try_resume(d, &req);
        else
            fota_stage_free(d->stage);
        if (d->resuming && fota_stage_done(d->stage) == 0) {
            /* Every byte is already here (a cut came before the package was
             * finished): done without asking the network, as a 206 of nothing more. */
            d->staged_before = 1;
            d->into_stage = 1;
            d->result = 0;
            release_stage(d);
            return 0;
        }
    }
    if ((rc = fota_http_init(&d->http, &req)) != 0) {
        fota_download_fail(d, rc, fota_http_strerror(rc));
        release_stage(d);
        return rc;
    }
    return 0;
}

int fota_download_step(fota_download *d, uint32_t budget_ms)
{
    uint64_t deadline = fota_port_now_ms() + budget_ms;
    while (d->result > 0) {
        uint64_t now = fota_port_now_ms();
        int rc = fota_http_step(d->http, now < deadline ? (uint32_t)(deadline - now) : 0, sink, d);
        if (rc != FOTA_HTTP_AGAIN) {
            finish(d, rc);
            break;
        }
        if (fota_port_now_ms() >= deadline)
            break;
    }
    return d->result;
}

int fota_download_result(const fota_download *d)
{
    return d->result;
}

const char *fota_download_errmsg(const fota_download *d)
{
    return d->result < 0 ? d->errmsg : "";
}

int fota_download_cause(const fota_download *d)
{
    return d->cause;
}

int fota_download_staged(const fota_download *d)
{
    return d->into_stage;
}

int fota_download_status(const fota_download *d)
{
    if (d->staged_before)
        return 206;
    return d->http && fota_http_have_headers(d->http) ? fota_http_response_info(d->http)->status : 0;
}

const fota_http *fota_download_http(const fota_download *d)
{
    return d->http && fota_http_have_headers(d->http) ? d->http : NULL;
}

void fota_download_progress(const fota_download *d, uint64_t *done, uint64_t *total)
{
    const fota_http_response *r = d->http ? fota_http_response_info(d->http) : NULL;
    *done = 0;
    *total = FOTA_HTTP_UNKNOWN;
    if (!d->into_stage)
        return;
    *done = fota_stage_written(d->stage);
    if (fota_stage_total(d->stage))
        *total = fota_stage_total(d->stage);
    else if (r && r->has_range && r->range_total != FOTA_HTTP_UNKNOWN)
        *total = r->range_total;
    else if (r && r->has_length)
        *total = r->content_length + d->resume_from;
}

uint64_t fota_download_resumed(const fota_download *d)
{
    return d->into_stage && d->resuming ? d->resume_from : 0;
}

int fota_download_resumable(const fota_download *d)
{
    return d->stage && (d->into_stage || d->resuming) && !d->discarded && fota_stage_validator(d->stage);
}

void fota_download_free(fota_download *d)
{
    if (d->result > 0)
        fota_download_fail(d, FOTA_HTTP_ERR_STATE, "closed");
    release_stage(d);
    fota_http_free(d->http);
    d->http = NULL;
}
