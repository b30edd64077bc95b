/* Staged rollouts (docs/server.md "Staged rollouts"): a configuration's
 * upgrade goes out in waves (shares of the fleet in basis points). A
 * device's place is a stable hash of the rollout id and its IMEI, so its
 * wave never changes and later waves include earlier ones. Every fact that
 * must hold across processes (who was sent the package, who upgraded or
 * failed, the wave, the state) lives in the database and changes only by
 * single atomic statements; the SQL is all in rollout.c. */
#ifndef FOTA_SRV_ROLLOUT_H
#define FOTA_SRV_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "srv.h"
#include "store.h"
#include "util.h"

#define SRV_ROLLOUT_BP_ALL 10000u          /* 100 % in basis points */
#define SRV_ROLLOUT_DEFAULT_MAX_FAILURE 500 /* 5 % */
#define SRV_ROLLOUT_DEFAULT_MIN_OUTCOMES 20
#define SRV_ROLLOUT_TICK_MS 1000            /* the server judges and advances this often */
#define SRV_ROLLOUT_JSON_MAX 8192           /* the status JSON, at most */
#define SRV_ROLLOUT_NONE "{\"state\":\"none\"}" /* the status of a configuration without one */

enum srv_rollout_state { RL_NONE = 0, RL_RUNNING, RL_PAUSED, RL_ABORTED };
/* rollout_device.state */
enum { RLD_SENT = 1, RLD_UPGRADED = 2, RLD_FAILED = 3 };

/* Tables added to the database (schema.c registers them; CREATE ... IF NOT EXISTS). */
extern const char *const srv_rollout_schema;

/* What the log writer does for a check of a configuration under a rollout
 * (db.c prepares them on the writer's connection and runs them in order,
 * in the batch's transaction). */
extern const char *const srv_rollout_writer_sql[RW__COUNT];

/* Its place in 0..9999: the first 8 bytes of SHA-256(decimal rollout id ||
 * IMEI), big-endian, mod 10000. */
uint32_t srv_rollout_bucket(int64_t rollout_id, const char *imei);
/* The wave (0-based) a bucket first belongs to, or -1 (in none of them). */
int srv_rollout_wave_of(const uint32_t *bp, int n, uint32_t bucket);
/* "1,10,50,100": percents with at most 2 decimals, rising, 0 < p <= 100,
 * at most SRV_ROLLOUT_WAVES_MAX. Fills bp (basis points). 0 ok, -1 bad. */
int srv_rollout_parse_waves(const char *s, uint32_t bp[SRV_ROLLOUT_WAVES_MAX], int *n);
/* The stored form "100,1000,5000,10000" back into bp. 0 ok, -1 bad. */
int srv_rollout_parse_bp(const char *s, uint32_t bp[SRV_ROLLOUT_WAVES_MAX], int *n);
/* "5", "2.5": a percent (0..100, 2 decimals) in basis points. 0 ok, -1 bad. */
int srv_rollout_parse_percent(const char *s, uint32_t *bp);
/* "500ms", "30s", "10m", "1h", "2d" (at most 366 days) in ms. 0 ok, -1 bad. */
int srv_rollout_parse_duration(const char *s, int64_t *ms);
enum srv_rollout_state srv_rollout_state_of(const char *text);

/* Judges and advances every running rollout on this connection: a wave
 * whose failure share is over the threshold (with enough outcomes since
 * the last start or resume) pauses its rollout; a rollout due by --every
 * moves to its next wave (compare-and-set, so of several processes one
 * moves it). 0, or -1 on a database error (retried at the next tick). */
int srv_rollout_tick(store *db, int64_t now_ms);

/* The status of the latest rollout of (project name, firmware name) as
 * JSON into out (cap >= SRV_ROLLOUT_JSON_MAX is always enough). Reads only.
 * 0 ok, 1 no project / configuration / rollout (out has {"error":...}),
 * -1 database error. The web console serves the same text. */
int srv_rollout_status_json(store *db, const char *project, const char *fwname, int64_t now_ms, char *out,
                            size_t cap);

/* rollout start|status|pause|resume|abort|advance of (project, firmware
 * name), for the CLI (scope NULL) and the web console (scope: the acting
 * user; another user's project is not found). Options NULL = not given.
 * On success json holds the status after it (cap >= SRV_ROLLOUT_JSON_MAX;
 * SRV_ROLLOUT_NONE: status of a configuration that never had one);
 * else e says why (util.h). */
int ops_rollout(srv_db *d, const char *scope, const char *what, const char *project, const char *fwname,
                const char *waves, const char *every, const char *max_failure, const char *min_outcomes, char *json,
                size_t cap, ops_err *e);

#endif
