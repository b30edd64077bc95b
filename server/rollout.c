/* Staged rollouts: the schema, every statement that reads or changes a
 * rollout, the wave arithmetic, the server's tick and the operation behind
 * the CLI's and the console's rollout commands.
 * Everything shared between processes is changed by one atomic statement
 * (an UPDATE guarded by the state it expects, an INSERT ... ON CONFLICT), so
 * several servers and the CLI over one database agree without locks of
 * their own. SQL only with bound parameters. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "rollout.h"
#include "validate.h"

const char *const srv_rollout_schema =
    "CREATE TABLE IF NOT EXISTS rollout("
    " id INTEGER PRIMARY KEY, config_id INTEGER NOT NULL REFERENCES config(id),"
    " firmware_id INTEGER NOT NULL REFERENCES firmware(id),"
    " waves TEXT NOT NULL,"                 /* basis points, "100,1000,5000,10000" */
    " nwaves INTEGER NOT NULL, wave INTEGER NOT NULL DEFAULT 0, share_bp INTEGER NOT NULL,"
    " state TEXT NOT NULL,"                 /* running | paused | aborted */
    " every_ms INTEGER NOT NULL DEFAULT 0,"  /* 0: advanced by command only */
    " max_failure_bp INTEGER NOT NULL, min_outcomes INTEGER NOT NULL,"
    " judge_since INTEGER NOT NULL,"        /* outcomes from here are judged (start, resume) */
    " wave_started INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '');"
    /* at most one live rollout per configuration */
    "CREATE UNIQUE INDEX IF NOT EXISTS rollout_live ON rollout(config_id)"
    " WHERE state IN ('running','paused');"
    "CREATE TABLE IF NOT EXISTS rollout_device("
    " rollout_id INTEGER NOT NULL, imei TEXT NOT NULL, wave INTEGER NOT NULL,"
    " from_version TEXT NOT NULL, state INTEGER NOT NULL,"   /* 1 sent, 2 upgraded, 3 failed */
    " sent_ts INTEGER NOT NULL, outcome_ts INTEGER,"
    " PRIMARY KEY(rollout_id, imei)) WITHOUT ROWID;";

const char *const srv_rollout_writer_sql[RW__COUNT] = {
    /* A check after the package was sent: on the target it upgraded, on
     * the version it was sent from it failed (rolled back or refused).
     * ?3 the version as reported, ?4 the target in the same form. */
    [RW_OUTCOME] = ("UPDATE rollout_device SET state=CASE WHEN ?3=?4 THEN 2 ELSE 3 END, outcome_ts=?5"
                    " WHERE rollout_id=?1 AND imei=?2 AND state=1 AND (?3=?4 OR ?3=from_version)"),
    /* The package was answered (200/206): the first time counts. */
    [RW_SENT] = ("INSERT INTO rollout_device(rollout_id, imei, wave, from_version, state, sent_ts)"
                 " VALUES(?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT(rollout_id, imei) DO NOTHING"),
};

/* ---------------------------------------------------------------- */
/* waves                                                             */

uint32_t srv_rollout_bucket(int64_t rollout_id, const char *imei)
{
    char in[32 + SRV_IMEI_LEN + 1];
    int n = snprintf(in, sizeof in, "%" PRId64 "%s", rollout_id, imei);
    uint8_t h[32];
    if (n < 0 || (size_t)n >= sizeof in || fota_sha256(in, (size_t)n, h) != 0) return SRV_ROLLOUT_BP_ALL;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | h[i];
    return (uint32_t)(v % SRV_ROLLOUT_BP_ALL);
}

int srv_rollout_wave_of(const uint32_t *bp, int n, uint32_t bucket)
{
    for (int i = 0; i < n; i++)
        if (bucket < bp[i]) return i;
    return -1;
}

/* One percent with at most two decimals, from *p up to a ',' or the end. */
static int percent_at(const char **p, uint32_t *bp)
{
    const char *s = *p;
    uint32_t whole = 0, frac = 0;
    int dw = 0, df = 0;
    while (*s >= '0' && *s <= '9' && dw < 4) whole = whole * 10 + (uint32_t)(*s++ - '0'), dw++;
    if (!dw) return -1;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9' && df < 2) frac = frac * 10 + (uint32_t)(*s++ - '0'), df++;
        if (!df) return -1;
        if (df == 1) frac *= 10;
    }
    if (*s && *s != ',') return -1;
    uint32_t v = whole * 100 + frac;
    if (whole > 100 || v > SRV_ROLLOUT_BP_ALL) return -1;
    *bp = v;
    *p = s;
    return 0;
}

int srv_rollout_parse_percent(const char *s, uint32_t *bp)
{
    if (!s || !*s) return -1;
    const char *p = s;
    return percent_at(&p, bp) == 0 && *p == '\0' ? 0 : -1;
}

int srv_rollout_parse_waves(const char *s, uint32_t bp[SRV_ROLLOUT_WAVES_MAX], int *n)
{
    int k = 0;
    const char *p = s;
    if (!s || !*s) return -1;
    for (;;) {
        uint32_t v;
        if (k >= SRV_ROLLOUT_WAVES_MAX || percent_at(&p, &v) != 0 || v == 0 || (k && v <= bp[k - 1])) return -1;
        bp[k++] = v;
        if (*p == '\0') break;
        p++;   /* ',' */
    }
    *n = k;
    return 0;
}

int srv_rollout_parse_bp(const char *s, uint32_t bp[SRV_ROLLOUT_WAVES_MAX], int *n)
{
    int k = 0;
    const char *p = s;
    if (!s || !*s) return -1;
    for (;;) {
        uint32_t v = 0;
        int d = 0;
        while (*p >= '0' && *p <= '9' && d < 6) v = v * 10 + (uint32_t)(*p++ - '0'), d++;
        if (!d || v == 0 || v > SRV_ROLLOUT_BP_ALL || k >= SRV_ROLLOUT_WAVES_MAX || (k && v <= bp[k - 1]))
            return -1;
        bp[k++] = v;
        if (*p == '\0') break;
        if (*p++ != ',') return -1;
    }
    *n = k;
    return 0;
}

int srv_rollout_parse_duration(const char *s, int64_t *ms)
{
    if (!s || !*s) return -1;
    int64_t v = 0;
    int d = 0;
    while (*s >= '0' && *s <= '9' && d < 12) v = v * 10 + (*s++ - '0'), d++;
    if (!d) return -1;
    int64_t unit;
    if (strcmp(s, "ms") == 0) unit = 1;
    else if (strcmp(s, "s") == 0) unit = 1000;
    else if (strcmp(s, "m") == 0) unit = 60 * 1000;
    else if (strcmp(s, "h") == 0) unit = 3600 * 1000;
    else if (strcmp(s, "d") == 0) unit = 86400 * 1000;
    else return -1;
    if (v == 0 || v > 366LL * 86400 * 1000 / unit) return -1;
    *ms = v * unit;
    return 0;
}

enum srv_rollout_state srv_rollout_state_of(const char *text)
{
    if (!text) return RL_NONE;
    if (strcmp(text, "running") == 0) return RL_RUNNING;
    if (strcmp(text, "paused") == 0) return RL_PAUSED;
    if (strcmp(text, "aborted") == 0) return RL_ABORTED;
    return RL_NONE;
}

/* ---------------------------------------------------------------- */
/* the tick                                                          */

/* Pauses every running rollout with a wave over its threshold: counted in
 * the database, by one statement, so two servers judge the same numbers. */
static const char *const sql_auto_pause =
    "UPDATE rollout SET state='paused', updated=?1,"
    " reason='failure rate over the threshold in a wave' WHERE state='running'"
    " AND EXISTS (SELECT 1 FROM rollout_device d WHERE d.rollout_id=rollout.id AND d.state IN (2,3)"
    "  AND d.outcome_ts>=rollout.judge_since GROUP BY d.wave"
    "  HAVING COUNT(*)>=rollout.min_outcomes AND SUM(CASE WHEN d.state=3 THEN 1 ELSE 0 END)*10000>rollout.max_failure_bp*COUNT(*))";
static const char *const sql_due =
    "SELECT id, wave, waves FROM rollout WHERE state='running' AND every_ms>0 AND wave<nwaves-1"
    " AND wave_started+every_ms<=?1";
/* compare-and-set: only the process that sees the old wave moves it */
static const char *const sql_advance =
    "UPDATE rollout SET wave=?3, share_bp=?4, wave_started=?5, updated=?5"
    " WHERE id=?1 AND wave=?2 AND state IN ('running','paused') AND ?3<nwaves";

static int step_once(store *db, store_stmt *st)
{
    int rc = store_step(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        fprintf(stderr, "fota-server: rollout: %s\n", store_errmsg(db));
    return rc == STORE_DONE || rc == STORE_ROW ? 0 : -1;
}

static int advance_to(store *db, int64_t id, int wave, const char *waves, int64_t now_ms, int *changed)
{
    uint32_t bp[SRV_ROLLOUT_WAVES_MAX];
    int n = 0;
    *changed = 0;
    if (srv_rollout_parse_bp(waves, bp, &n) != 0 || wave + 1 >= n) return 0;
    store_stmt *st;
    if (!(st = store_prepare(db, sql_advance))) return -1;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, wave);
    store_bind_int64(st, 3, wave + 1);
    store_bind_int64(st, 4, bp[wave + 1]);
    store_bind_int64(st, 5, now_ms);
    int rc = step_once(db, st);
    *changed = rc == 0 && store_changes(st) == 1;
    store_finalize(st);
    return rc;
}

int srv_rollout_tick(store *db, int64_t now_ms)
{
    store_stmt *st;
    int rc = -1;
    if (!(st = store_prepare(db, sql_auto_pause))) return -1;
    store_bind_int64(st, 1, now_ms);
    rc = step_once(db, st);
    store_finalize(st);
    if (rc) return -1;
    /* Due ones, read first (bounded: one row per live configuration), then
     * moved one by one. */
    struct { int64_t id; int wave; char waves[16 * 6]; } due[32];
    int ndue = 0;
    if (!(st = store_prepare(db, sql_due))) return -1;
    store_bind_int64(st, 1, now_ms);
    int r;
    while ((r = store_step(st)) == STORE_ROW && ndue < (int)(sizeof due / sizeof due[0])) {
        const char *w = store_column_text(st, 2);
        if (!w || strlen(w) >= sizeof due[0].waves) continue;
        due[ndue].id = store_column_int64(st, 0);
        due[ndue].wave = (int)store_column_int64(st, 1);
        memcpy(due[ndue].waves, w, strlen(w) + 1);
        ndue++;
    }
    store_finalize(st);
    if (r != STORE_ROW && r != STORE_DONE) return -1;
    for (int i = 0; i < ndue; i++) {
        int changed;
        if (advance_to(db, due[i].id, due[i].wave, due[i].waves, now_ms, &changed)) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* status                                                            */

typedef struct rl_row {
    int64_t id, config_id, firmware_id, cfg_firmware_id;
    int nwaves, wave;
    uint32_t bp[SRV_ROLLOUT_WAVES_MAX];
    uint32_t share_bp, max_failure_bp;
    int64_t every_ms, min_outcomes, judge_since, wave_started, created, updated;
    char state[16], reason[SRV_MSG_MAX];
    uint32_t core;
    char script[SRV_VER_MAX];
} rl_row;

/* The latest rollout of the configuration (live=1: only a running or
 * paused one). 1 found, 0 none, -1 error. */
static int latest(store *db, int64_t config_id, int live, rl_row *r)
{
    store_stmt *st;
    const char *sql =
        "SELECT r.id, r.config_id, r.firmware_id, c.firmware_id, r.waves, r.wave, r.share_bp, r.state,"
        " r.every_ms, r.max_failure_bp, r.min_outcomes, r.judge_since, r.wave_started, r.created, r.updated,"
        " r.reason, f.core_version, f.script_version FROM rollout r JOIN config c ON c.id=r.config_id"
        " JOIN firmware f ON f.id=r.firmware_id WHERE r.config_id=?1"
        " AND (?2=0 OR r.state IN ('running','paused')) ORDER BY r.id DESC LIMIT 1";
    if (!(st = store_prepare(db, sql))) return -1;
    store_bind_int64(st, 1, config_id);
    store_bind_int64(st, 2, live);
    int rc = store_step(st), found = 0;
    if (rc == STORE_ROW) {
        memset(r, 0, sizeof *r);
        r->id = store_column_int64(st, 0);
        r->config_id = store_column_int64(st, 1);
        r->firmware_id = store_column_int64(st, 2);
        r->cfg_firmware_id = store_column_int64(st, 3);
        char waves[SRV_ROLLOUT_WAVES_MAX * 6 + 1];
        store_column_copy(st, 4, waves, sizeof waves);
        found = srv_rollout_parse_bp(waves, r->bp, &r->nwaves) == 0 ? 1 : -1;
        r->wave = (int)store_column_int64(st, 5);
        r->share_bp = (uint32_t)store_column_int64(st, 6);
        store_column_copy(st, 7, r->state, sizeof r->state);
        r->every_ms = store_column_int64(st, 8);
        r->max_failure_bp = (uint32_t)store_column_int64(st, 9);
        r->min_outcomes = store_column_int64(st, 10);
        r->judge_since = store_column_int64(st, 11);
        r->wave_started = store_column_int64(st, 12);
        r->created = store_column_int64(st, 13);
        r->updated = store_column_int64(st, 14);
        store_column_copy(st, 15, r->reason, sizeof r->reason);
        r->core = (uint32_t)store_column_int64(st, 16);
        store_column_copy(st, 17, r->script, sizeof r->script);
    }
    store_finalize(st);
    if (rc != STORE_ROW && rc != STORE_DONE) return -1;
    return found;
}

/* The configuration of (project name, firmware name): its id, or 0 / -1. */
/* The configuration's id, 0 none (or not the scope user's), -1 error. */
static int64_t config_of(store *db, const char *project, const char *fwname, const char *scope)
{
    store_stmt *st;
    if (!(st = store_prepare(db, "SELECT c.id FROM config c JOIN project p ON p.id=c.project_id"
                               " WHERE p.name=?1 AND c.firmware_name=?2 AND (CAST(?3 AS TEXT) IS NULL OR p.owner=?3)")))
        return -1;
    store_bind_str(st, 1, project);
    store_bind_str(st, 2, fwname);
    if (scope) store_bind_str(st, 3, scope);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? id : -1;
}

/* The project named so in scope (ops_project_named's rule: a name more
 * than one owner uses names none without a scope): its id, 0 none, -2
 * shared, -1 error. */
static int64_t project_of(store *db, const char *name, const char *scope)
{
    store_stmt *st;
    if (!(st = store_prepare(db, "SELECT id FROM project WHERE name=?1 AND (CAST(?2 AS TEXT) IS NULL OR owner=?2)"
                                 " ORDER BY id LIMIT 2")))
        return -1;
    store_bind_str(st, 1, name);
    if (scope) store_bind_str(st, 2, scope);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    if (id && (rc = store_step(st)) == STORE_ROW) id = -2;
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? id : -1;
}

/* The configuration of (project id, firmware name): its id, or 0 / -1. */
static int64_t config_of_project(store *db, int64_t pid, const char *fwname)
{
    store_stmt *st;
    if (!(st = store_prepare(db, "SELECT id FROM config WHERE project_id=?1 AND firmware_name=?2"))) return -1;
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, fwname);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? id : -1;
}

/* Appends to out; the caller's cap is checked once at the end. */
typedef struct jbuf {
    char *p;
    size_t cap, n;
    int over;
} jbuf;

static void jput(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jput(jbuf *j, const char *fmt, ...)
{
    va_list ap;
    if (j->over) return;
    va_start(ap, fmt);
    int m = vsnprintf(j->p + j->n, j->cap - j->n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= j->cap - j->n) j->over = 1;
    else j->n += (size_t)m;
}

/* A JSON string of our own text (names are validated; escape anyway):
 * UTF-8 as is, anything else '?'. */
static void jstr(jbuf *j, const char *s)
{
    jput(j, "\"");
    for (size_t n = strlen(s), len; n; s += len, n -= len) {
        unsigned char c = (unsigned char)*s;
        len = srv_utf8_seq(s, n);
        if (c == '"' || c == '\\') jput(j, "\\%c", c);
        else if (!len || c < 0x20 || c == 0x7f) jput(j, "?");
        else jput(j, "%.*s", (int)len, s);
        if (!len) len = 1;
    }
    jput(j, "\"");
}

static void jpercent(jbuf *j, uint32_t bp)
{
    if (bp % 100) jput(j, "%u.%02u", bp / 100, bp % 100);
    else jput(j, "%u", bp / 100);
}

static int status_json(store *db, int64_t cfg, const char *project, const char *fwname, int64_t now_ms, char *out,
                       size_t cap);

int srv_rollout_status_json(store *db, const char *project, const char *fwname, int64_t now_ms, char *out,
                            size_t cap)
{
    if (cap < 64) return -1;
    int64_t cfg = config_of(db, project, fwname, NULL);
    if (cfg < 0) return -1;
    return status_json(db, cfg, project, fwname, now_ms, out, cap);
}

static int status_json(store *db, int64_t cfg, const char *project, const char *fwname, int64_t now_ms, char *out,
                       size_t cap)
{
    jbuf j = { out, cap, 0, 0 };
    if (cap < 64) return -1;
    rl_row r;
    int found = cfg ? latest(db, cfg, 0, &r) : 0;
    if (found < 0) return -1;
    if (!found) {
        snprintf(out, cap, "{\"error\":\"%s\"}", cfg ? "no rollout" : "no such configuration");
        return 1;
    }
    /* per wave: sent, upgraded, failed, and the outcomes being judged */
    int64_t sent[SRV_ROLLOUT_WAVES_MAX] = { 0 }, up[SRV_ROLLOUT_WAVES_MAX] = { 0 },
            failed[SRV_ROLLOUT_WAVES_MAX] = { 0 }, judged[SRV_ROLLOUT_WAVES_MAX] = { 0 },
            jfailed[SRV_ROLLOUT_WAVES_MAX] = { 0 };
    store_stmt *st;
    if (!(st = store_prepare(db, "SELECT wave, COUNT(*), SUM(CASE WHEN state=2 THEN 1 ELSE 0 END), SUM(CASE WHEN state=3 THEN 1 ELSE 0 END),"
                               " SUM(CASE WHEN state IN (2,3) AND outcome_ts>=?2 THEN 1 ELSE 0 END),"
                               " SUM(CASE WHEN state=3 AND outcome_ts>=?2 THEN 1 ELSE 0 END)"
                               " FROM rollout_device WHERE rollout_id=?1 GROUP BY wave")))
        return -1;
    store_bind_int64(st, 1, r.id);
    store_bind_int64(st, 2, r.judge_since);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) {
        int w = (int)store_column_int64(st, 0);
        if (w < 0 || w >= SRV_ROLLOUT_WAVES_MAX) continue;
        sent[w] = store_column_int64(st, 1);
        up[w] = store_column_int64(st, 2);
        failed[w] = store_column_int64(st, 3);
        judged[w] = store_column_int64(st, 4);
        jfailed[w] = store_column_int64(st, 5);
    }
    store_finalize(st);
    if (rc != STORE_DONE) return -1;

    jput(&j, "{\"id\":%" PRId64 ",\"project\":", r.id);
    jstr(&j, project);
    jput(&j, ",\"firmware\":");
    jstr(&j, fwname);
    jput(&j, ",\"target\":{\"core\":%lu,\"script\":", (unsigned long)r.core);
    jstr(&j, r.script);
    jput(&j, "},\"state\":");
    jstr(&j, r.state);
    jput(&j, ",\"reason\":");
    jstr(&j, r.reason);
    /* a configuration set to another release since: this rollout no longer decides */
    jput(&j, ",\"applies\":%s,\"wave\":%d,\"share_percent\":", r.firmware_id == r.cfg_firmware_id ? "true" : "false",
         r.wave + 1);
    jpercent(&j, r.share_bp);
    jput(&j, ",\"every_ms\":%" PRId64 ",\"next_advance_ms\":", r.every_ms);
    if (strcmp(r.state, "running") == 0 && r.every_ms > 0 && r.wave + 1 < r.nwaves) {
        int64_t left = r.wave_started + r.every_ms - now_ms;
        jput(&j, "%" PRId64, left > 0 ? left : 0);
    } else {
        jput(&j, "null");
    }
    jput(&j, ",\"max_failure_percent\":");
    jpercent(&j, r.max_failure_bp);
    jput(&j, ",\"min_outcomes\":%" PRId64 ",\"created\":%" PRId64 ",\"updated\":%" PRId64
             ",\"wave_started\":%" PRId64 ",\"waves\":[",
         r.min_outcomes, r.created, r.updated, r.wave_started);
    int64_t ts = 0, tu = 0, tf = 0;
    for (int w = 0; w < r.nwaves; w++) {
        jput(&j, "%s{\"wave\":%d,\"percent\":", w ? "," : "", w + 1);
        jpercent(&j, r.bp[w]);
        jput(&j, ",\"open\":%s,\"sent\":%" PRId64 ",\"upgraded\":%" PRId64 ",\"failed\":%" PRId64
                 ",\"pending\":%" PRId64 ",\"judged\":%" PRId64 ",\"failure_percent\":",
             w <= r.wave ? "true" : "false", sent[w], up[w], failed[w], sent[w] - up[w] - failed[w], judged[w]);
        if (judged[w]) {
            int64_t fp = jfailed[w] * 10000 / judged[w];
            jpercent(&j, (uint32_t)fp);
        } else {
            jput(&j, "null");
        }
        jput(&j, "}");
        ts += sent[w];
        tu += up[w];
        tf += failed[w];
    }
    jput(&j, "],\"sent\":%" PRId64 ",\"upgraded\":%" PRId64 ",\"failed\":%" PRId64 "}", ts, tu, tf);
    return j.over ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* commands                                                          */

static int db_err(store *db, ops_err *e)
{
    return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(db), NULL);
}

static int rollout_start(store *db, int64_t cfg, const char *waves, const char *every, const char *max_failure,
                         const char *min_outcomes, ops_err *e)
{
    uint32_t bp[SRV_ROLLOUT_WAVES_MAX], maxf = SRV_ROLLOUT_DEFAULT_MAX_FAILURE;
    int n = 0;
    int64_t every_ms = 0;
    unsigned long minout = SRV_ROLLOUT_DEFAULT_MIN_OUTCOMES;
    char *end = NULL;
    if (!waves || srv_rollout_parse_waves(waves, bp, &n))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "rollout_waves_invalid", "value", waves ? waves : "", NULL);
    if (every && srv_rollout_parse_duration(every, &every_ms))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "rollout_every_invalid", "value", every, NULL);
    if (max_failure && srv_rollout_parse_percent(max_failure, &maxf))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "rollout_max_failure_invalid", "value", max_failure, NULL);
    if (min_outcomes && (!*min_outcomes || *min_outcomes == '-' ||
                         (minout = strtoul(min_outcomes, &end, 10), *end) || minout < 1 || minout > 1000000))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "rollout_min_outcomes_invalid", "value", min_outcomes, NULL);
    char wtext[SRV_ROLLOUT_WAVES_MAX * 6 + 1];
    size_t o = 0;
    for (int i = 0; i < n; i++) o += (size_t)snprintf(wtext + o, sizeof wtext - o, "%s%u", i ? "," : "", bp[i]);
    int64_t now = srv_now_ms();
    store_stmt *st = store_prepare(db, "INSERT INTO rollout(config_id, firmware_id, waves, nwaves, wave, share_bp,"
                                       " state, every_ms, max_failure_bp, min_outcomes, judge_since, wave_started,"
                                       " created, updated)"
                                       " SELECT id, firmware_id, CAST(?2 AS TEXT), CAST(?3 AS INTEGER), 0,"
                                       " CAST(?4 AS INTEGER), 'running', CAST(?5 AS INTEGER), CAST(?6 AS INTEGER),"
                                       " CAST(?7 AS INTEGER), CAST(?8 AS INTEGER), CAST(?8 AS INTEGER),"
                                       " CAST(?8 AS INTEGER), CAST(?8 AS INTEGER) FROM config WHERE id=?1");
    if (!st) return db_err(db, e);
    store_bind_int64(st, 1, cfg);
    store_bind_str(st, 2, wtext);
    store_bind_int64(st, 3, n);
    store_bind_int64(st, 4, bp[0]);
    store_bind_int64(st, 5, every_ms);
    store_bind_int64(st, 6, maxf);
    store_bind_int64(st, 7, (int64_t)minout);
    store_bind_int64(st, 8, now);
    int rc = store_step(st);
    if (rc != STORE_DONE && rc != STORE_CONFLICT) db_err(db, e);
    store_finalize(st);
    if (rc == STORE_CONFLICT)
        return ops_failk(e, EXIT_USAGE_ERR, 409, "rollout_running", NULL);
    return rc == STORE_DONE ? 0 : e->rc;
}

/* pause / resume / abort / advance of the live rollout: one guarded UPDATE each. */
static int rollout_change(store *db, int64_t cfg, const char *what, ops_err *e)
{
    rl_row r;
    int found = latest(db, cfg, 1, &r);
    if (found < 0) return db_err(db, e);
    if (!found) return ops_failk(e, EXIT_USAGE_ERR, 409, "rollout_none", "action", what, NULL);
    int64_t now = srv_now_ms();
    if (strcmp(what, "advance") == 0) {
        int changed = 0;
        char waves[SRV_ROLLOUT_WAVES_MAX * 6 + 1];
        size_t o = 0;
        for (int i = 0; i < r.nwaves; i++)
            o += (size_t)snprintf(waves + o, sizeof waves - o, "%s%u", i ? "," : "", r.bp[i]);
        if (r.wave + 1 >= r.nwaves) return ops_failk(e, EXIT_USAGE_ERR, 409, "rollout_last_wave", NULL);
        if (advance_to(db, r.id, r.wave, waves, now, &changed)) return db_err(db, e);
        if (!changed)
            return ops_failk(e, EXIT_USAGE_ERR, 409, "rollout_changed", NULL);
        return 0;
    }
    const char *sql =
        strcmp(what, "pause") == 0
            ? "UPDATE rollout SET state='paused', reason='paused by command', updated=?2 WHERE id=?1 AND state='running'"
        : strcmp(what, "resume") == 0
            ? "UPDATE rollout SET state='running', reason='', judge_since=?2, wave_started=?2, updated=?2"
              " WHERE id=?1 AND state='paused'"
            : "UPDATE rollout SET state='aborted', reason='aborted by command', updated=?2 WHERE id=?1"
              " AND state IN ('running','paused')";
    store_stmt *st = store_prepare(db, sql);
    if (!st) return db_err(db, e);
    store_bind_int64(st, 1, r.id);
    store_bind_int64(st, 2, now);
    int rc = store_step(st);
    int changed = rc == STORE_DONE && store_changes(st) > 0;
    if (rc != STORE_DONE) db_err(db, e);
    store_finalize(st);
    if (rc != STORE_DONE) return e->rc;
    if (!changed) return ops_failk(e, EXIT_USAGE_ERR, 409, "rollout_state", "action", what, "state", r.state, NULL);
    return 0;
}

int ops_rollout(srv_db *d, const char *scope, const char *what, const char *project, const char *fwname,
                const char *waves, const char *every, const char *max_failure, const char *min_outcomes, char *json,
                size_t cap, ops_err *e)
{
    static const char *const whats[] = { "start", "status", "pause", "resume", "abort", "advance" };
    int known = 0;
    for (size_t i = 0; what && i < sizeof whats / sizeof whats[0]; i++) known |= strcmp(what, whats[i]) == 0;
    if (!known) return ops_failk(e, EXIT_USAGE_ERR, 400, "rollout_action", NULL);
    if (!project || !fwname) return ops_failk(e, EXIT_USAGE_ERR, 400, "field_required", "field", "project, firmware", NULL);
    if (!srv_is_fwname(fwname, strlen(fwname))) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_firmware_invalid", "firmware", fwname, NULL);
    char max[24];
    if (!srv_is_project_name(project, strlen(project)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "project_invalid", "max", ops_num(max, SRV_PROJECT_CHARS), NULL);
    int64_t pid = project_of(d->db, project, scope);
    if (pid == -1) return db_err(d->db, e);
    if (pid == -2)
        return ops_failk(e, EXIT_USAGE_ERR, 409, "project_ambiguous", "project", project, NULL);
    if (pid == 0) return ops_failk(e, EXIT_USAGE_ERR, 404, "project_unknown", "project", project, NULL);
    int64_t cfg = config_of_project(d->db, pid, fwname);
    if (cfg < 0) return db_err(d->db, e);
    if (cfg == 0)
        return ops_failk(e, EXIT_USAGE_ERR, 404, "rollout_config_unknown", "firmware", fwname, "project", project, NULL);
    int rc = !strcmp(what, "start")    ? rollout_start(d->db, cfg, waves, every, max_failure, min_outcomes, e)
             : !strcmp(what, "status") ? 0
                                       : rollout_change(d->db, cfg, what, e);
    if (rc) return rc;
    /* Every command answers with the status after it. */
    int s = status_json(d->db, cfg, project, fwname, srv_now_ms(), json, cap);
    if (s < 0) return db_err(d->db, e);
    if (s == 1) {
        /* a configuration without a rollout is a state, not an error, to look at */
        if (strcmp(what, "status") != 0) return ops_failk(e, EXIT_IO_ERR, 500, "rollout_missing", NULL);
        snprintf(json, cap, "%s", SRV_ROLLOUT_NONE);
    }
    return 0;
}
