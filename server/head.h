/* Strict HTTP/1.1 request heads (head.c). libmicrohttpd 0.9.75 accepts bare
 * LF and bare CR line ends, NUL bytes, obs-fold and repeated
 * Content-Length, and offers no hook on the raw head. It parses the head in
 * place, though: the request line and header lines stay where they were
 * received, each line end overwritten with zeros (CRLF with two, a bare LF
 * with one), and it reports the head's length. The check here reads that
 * buffer back against the header list the library built from it: a head
 * passes only if it is exactly what a strict CRLF head with those fields
 * leaves behind. It runs for every request, keep-alive follow-ups included,
 * over HTTP and HTTPS (TLS is undone before the buffer), at no measurable
 * cost (a walk over the head's bytes, once).
 *
 * What it cannot see (docs/security.md, threat table): bytes the library
 * itself turns into zeros next to a line end stand in for the zero a CR
 * leaves: NUL bytes ("a" NUL LF reads as "a" CRLF, LF NUL NUL LF as CRLF
 * CRLF), and after a field a line of just ":" (the library zeroes the
 * colon, then takes the line for the blank one: LF ":" CRLF reads as CRLF
 * CRLF); and lines before the request line that are empty or start with
 * NUL, which the library skips (RFC 9112 2.2 lets a server ignore empty
 * ones). */
#ifndef FOTA_SRV_HEAD_H
#define FOTA_SRV_HEAD_H

#include <stddef.h>

#include <microhttpd.h>

#define SRV_HEAD_MAX 8192     /* request line + headers + blank line, bytes */

/* The raw request target as the URI log callback saw it (before the query
 * is split and the path unescaped in place). */
typedef struct srv_head_uri {
    const char *uri;          /* NULL: no request line seen for this request */
    size_t len;               /* strlen at that time: a NUL in it shows as a short length */
    int bad;                  /* a control byte, SP or DEL (raw UTF-8 passes: modules send it unencoded) */
} srv_head_uri;

/* Records the target at the URI log callback, before the library changes it. */
void srv_head_uri_seen(srv_head_uri *u, const char *uri);

/* A field as the library recorded it. */
typedef struct srv_head_field {
    const char *key, *value;
    size_t key_len, value_len;
} srv_head_field;

#define SRV_HEAD_FIELDS_MAX 64

/* The pure check: `head` .. head + head_len is the library's buffer (the
 * request line starts at `head` with the method), uri as seen by the URI
 * callback, version the library's pointer to "HTTP/1.x", the fields in
 * order. NULL when strict, else why not (a constant string). */
const char *srv_head_check(const char *head, size_t head_len, const srv_head_uri *uri, const char *version,
                           const srv_head_field *fields, size_t n_fields);

/* The same for a connection, at the access handler's first call for a
 * request (method and version are the handler's arguments). */
const char *srv_head_check_connection(struct MHD_Connection *c, const char *method, const char *version,
                                      const srv_head_uri *uri);

#endif
