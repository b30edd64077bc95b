/* A thin SQL layer over two stores (issue 17): SQLite, the embedded
 * default, and PostgreSQL through libpq, chosen by the location's scheme
 * (postgresql:// or postgres://; anything else is a SQLite file). Callers
 * write one copy of their SQL in SQLite's spelling with ?N placeholders;
 * for PostgreSQL it is rewritten (store_dialect) before it is prepared.
 * A store is one connection: like sqlite3 itself, callers serialise it. */
#ifndef FOTA_STORE_H
#define FOTA_STORE_H
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct store_stmt store_stmt;

enum store_kind { STORE_SQLITE = 1, STORE_PG = 2 };
/* store_step's answers; the negative ones are failures. STORE_DOWN: the
 * server is unreachable (answer 503, call store_reconnect later). */
enum { STORE_DONE = 0, STORE_ROW = 1, STORE_ERR = -1, STORE_DOWN = -2, STORE_CONFLICT = -3 };
/* STORE_CONFLICT: a UNIQUE/PRIMARY KEY/foreign key constraint refused the
 * row (a name taken, say), as opposed to the store failing. */

/* Longest SQL text accepted, and most parameters in one statement. */
#define STORE_SQL_MAX (256 * 1024)
#define STORE_PARAMS_MAX 64

int store_is_pg(const char *location);
/* NULL on failure with the reason in err. */
store *store_open(const char *location, char *err, size_t errlen);
void store_close(store *s);
enum store_kind store_kind_of(const store *s);
const char *store_errmsg(const store *s);
/* 1 when the connection works now; for PostgreSQL a lost one is reset
 * (statements prepared again on their next step). */
int store_reconnect(store *s);

/* Rewrite SQLite-spelled SQL for kind into a fresh string (free it), or
 * NULL when it is too long or malformed. For PostgreSQL: ?N -> $N (a bare ?
 * numbered in order), INTEGER PRIMARY KEY -> an identity column, INTEGER ->
 * BIGINT (SQLite's integers are 64-bit), BLOB -> BYTEA, INSERT OR IGNORE -> ON CONFLICT DO
 * NOTHING, group_concat -> string_agg (two arguments, text), AUTOINCREMENT
 * and WITHOUT ROWID dropped, PRAGMA statements
 * dropped. String literals are left alone. *nparams gets the highest
 * placeholder number (may be NULL). */
char *store_dialect(enum store_kind kind, const char *sql, int *nparams);

/* The configuration cache's clock: a value that changes whenever another
 * connection commits a change that matters. SQLite: the file's
 * data_version (any commit; no statement). PostgreSQL: the notifications
 * that store_watch's triggers send, read from the socket without a round
 * trip; a reconnect also moves it (notifications may have been missed).
 * Tables must have been named to store_watch first (PostgreSQL). */
int store_clock(store *s, int64_t *clock);
/* PostgreSQL: statement triggers on these tables notify every listening
 * connection on commit, and this connection listens. Names are
 * [a-z_]{1,48}. A no-op on SQLite. 0 on success. */
int store_watch(store *s, const char *const *tables, int n);

/* Claims across processes (package builds: one instance builds, the others
 * answer 43). PostgreSQL: a session advisory lock on key, released by
 * store_unlock or when the connection ends (a crashed instance frees it).
 * SQLite: always granted (one file, the caller's own lock decides).
 * 1 granted, 0 held by another session, negative on failure. */
int store_try_lock(store *s, int64_t key);
int store_unlock(store *s, int64_t key);

/* A script of statements without parameters (schema, migrations). */
int store_exec(store *s, const char *sql);
int store_begin(store *s);
/* A transaction that will write: SQLite takes the write lock now (BEGIN
 * IMMEDIATE, so it waits up to the busy timeout here, not at a later
 * statement); PostgreSQL's rows lock as they are written. */
int store_begin_write(store *s);
/* PostgreSQL: statements stepped between begin and end are sent without
 * waiting for each answer (libpq's pipeline), so a batch of writes costs
 * one round trip. Only for statements that return no rows; store_step
 * answers STORE_DONE at once and store_pipeline_end the first failure (the
 * statements after it did not run; the session is then renewed). SQLite:
 * no-ops, statements run as they are stepped. */
int store_pipeline_begin(store *s);
int store_pipeline_end(store *s);
/* How long a SQLite statement waits for another connection's write lock
 * (PostgreSQL: no-op, rows lock individually). */
void store_busy_timeout(store *s, unsigned ms);
/* SQLite: a passive WAL checkpoint (never waits for a reader); no-op on
 * PostgreSQL. 0 or STORE_ERR. */
int store_checkpoint(store *s);
int store_commit(store *s);
int store_rollback(store *s);

store_stmt *store_prepare(store *s, const char *sql);
/* Parameters are numbered from 1; 0 on success. Text is copied. */
int store_bind_int64(store_stmt *st, int idx, int64_t v);
int store_bind_text(store_stmt *st, int idx, const char *text, size_t n);
int store_bind_null(store_stmt *st, int idx);
/* Bytes (a BLOB column; BYTEA on PostgreSQL), at most STORE_BLOB_MAX. */
#define STORE_BLOB_MAX (1024 * 1024)
int store_bind_blob(store_stmt *st, int idx, const void *data, size_t n);
/* A NUL-terminated string (NULL binds NULL). */
int store_bind_str(store_stmt *st, int idx, const char *text);
int store_step(store_stmt *st);
/* Rows changed by the last statement that finished. */
int64_t store_changes(store_stmt *st);
int store_column_count(store_stmt *st);
int store_column_is_null(store_stmt *st, int col);
int64_t store_column_int64(store_stmt *st, int col);
/* Valid until the next step/reset; NULL for SQL NULL. */
const char *store_column_text(store_stmt *st, int col);
/* A BLOB column's bytes (*n of them), valid until the next step/reset;
 * NULL for SQL NULL or a value that cannot be read. */
const void *store_column_blob(store_stmt *st, int col, size_t *n);
/* The text column into out (NUL-terminated); NULL gives "". A value that
 * does not fit gives "" and -1, never a cut one (a cut path names another
 * file). 0 on success. */
int store_column_copy(store_stmt *st, int col, char *out, size_t cap);
/* Back to before the first step; bindings are kept. */
void store_reset(store_stmt *st);
void store_clear_bindings(store_stmt *st);
void store_finalize(store_stmt *st);
#endif
