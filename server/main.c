/* fota-server: command line. `serve` runs the HTTP API; the other commands
 * administer the same database. Exit codes: 0 ok, 2 usage or refused
 * input, 3 I/O or database error. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cli.h"
#include "export.h"
#include "schema.h"

static const char *const usage_main =
    "usage: fota-server COMMAND [options]\n"
    "  every command takes --db FILE (SQLite, default ./fota.db) or --db postgresql://USER@HOST/DB,\n"
    "  and --data DIR (images and packages; needed once for a new PostgreSQL database)\n"
    "\n"
    "  serve                   run the upgrade API (GET /api/site/firmware_upgrade)\n"
    "  project add|list        projects: name (any text, unique per owner), product key, owner\n"
    "  firmware add|list       firmware releases: core image + scripts, versions\n"
    "  config set|show         what a firmware name upgrades to, for whom, from which versions\n"
    "  device add|ban|unban    devices: owner, loop-upgrade ban\n"
    "  device assign           place a device (IMEI) in a project: AT modules without a KEY\n"
    "  at add|delta|family|defaults  AT firmware: whole-image releases, prebuilt deltas, family defaults\n"
    "  package add|list|remove vendor packages (Luatools, the AT delta tool), served as they are\n"
    "  log                     a device's requests and answers\n"
    "  rollout start|status|pause|resume|abort|advance   staged rollouts of a configuration\n"
    "  export DIR              the package files for a static host (serve --package-url)\n"
    "  user add|list|passwd    web console accounts (http://HOST:PORT/console/)\n"
    "\n"
    "fota-server COMMAND [SUB] --help shows the options. See docs/server.md.\n"
    "--project NAME: a name more than one owner uses needs --owner OWNER too.\n";

typedef struct cmd {
    const char *name, *sub;
    const char *const *opts;   /* allowed options, each takes a value */
    const char *usage;
} cmd;

static const char *const o_serve[] = { "--db", "--data", "--listen", "--key", "--threads", "--max-size",
                                        "--port-file", "--log-flush-ms", "--build-delay-ms", "--lifetime",
                                        "--tls-cert", "--tls-key", "--per-address", "--header-timeout-ms",
                                        "--fresh-ttl", "--package-url", "--cache-ms", "--console",
                                        "--console-idle-s", "--console-max-age-s", "--cache-size", NULL };
static const char *const o_project_add[] = { "--db", "--data", "--name", "--key", "--owner", NULL };
static const char *const o_list[] = { "--db", "--data", "--project", "--owner", NULL };
static const char *const o_fw_add[] = { "--db", "--data", "--project", "--bsp", "--core-version", "--core",
                                        "--script", "--version", "--key", "--owner", "--lua-project", NULL };
static const char *const o_config_set[] = { "--db", "--data", "--project", "--firmware", "--version",
                                            "--core-version", "--imeis", "--from", "--enabled", "--reinstall",
                                            "--owner", NULL };
static const char *const o_device[] = { "--db", "--data", "--imei", "--project", "--owner", NULL };
static const char *const o_device_imei[] = { "--db", "--data", "--imei", NULL };
static const char *const o_log[] = { "--db", "--data", "--imei", "--date", NULL };
static const char *const o_at_add[] = { "--db", "--data", "--project", "--model", "--bsp", "--version",
                                        "--image", "--key", "--owner", NULL };
static const char *const o_at_delta[] = { "--db", "--data", "--project", "--model", "--bsp", "--package", "--owner",
                                          NULL };
static const char *const o_at_family[] = { "--db", "--data", "--model", "--project", "--owner", NULL };
static const char *const o_at_defaults[] = { "--db", "--data", "--owner", NULL };
static const char *const o_package_add[] = { "--db", "--data", "--project", "--firmware", "--to", "--from",
                                             "--max-size", "--owner", NULL };
static const char *const o_package_remove[] = { "--db", "--data", "--id", NULL };
static const char *const o_user[] = { "--db", "--data", "--name", "--password", NULL };
static const char *const o_device_assign[] = { "--db", "--data", "--imei", "--project", "--owner", NULL };
static const char *const o_rollout_start[] = { "--db", "--data", "--project", "--firmware", "--waves", "--every",
                                               "--max-failure", "--min-outcomes", "--owner", NULL };
static const char *const o_rollout[] = { "--db", "--data", "--project", "--firmware", "--owner", NULL };
static const char *const o_export[] = { "--db", "--data", "--dir", "--key", "--max-size", NULL };

static const cmd cmds[] = {
    { "serve", NULL, o_serve,
      "usage: fota-server serve --db FILE|URL --listen IP:PORT [--data DIR] [--key key.pem]\n"
      "                         [--threads N] [--max-size BYTES] [--port-file FILE]\n"
      "                         [--log-flush-ms MS] [--lifetime S] [--build-delay-ms MS]\n"
      "                         [--tls-cert cert.pem --tls-key key.pem] [--per-address N]\n"
      "                         [--header-timeout-ms MS] [--fresh-ttl S] [--package-url URL]\n"
      "                         [--cache-ms MS] [--cache-size MB]\n"
      "                         [--console on|off] [--console-idle-s S] [--console-max-age-s S]\n"
      "\n"
      "  --listen IP:PORT     IPv4 address and port; port 0 picks a free one (printed, and\n"
      "                       written to --port-file)\n"
      "  --data DIR           image files and the package cache (SQLite: default stored in\n"
      "                       the database, else FILE.d). PostgreSQL keeps every file in the\n"
      "                       database: DIR is only this instance's cache of them (default a\n"
      "                       new temporary directory, removed at exit)\n"
      "  --cache-size MB      PostgreSQL: the cache holds at most MB of files, oldest filled\n"
      "                       removed first (default 512)\n"
      "  --key FILE           sign packages with this P-256 private key (PEM); a firmware\n"
      "                       added with its own --key uses that one\n"
      "  --threads N          HTTP worker threads (default 2)\n"
      "  --tls-cert, --tls-key  serve https with this certificate (chain) and key (PEM)\n"
      "  --max-size BYTES     package size limit (default 491520)\n"
      "  --log-flush-ms MS    log rows are written in batches this often (default 100)\n"
      "  --per-address N      connections waiting for a request head from one IP address (default 64;\n"
      "                       1000 connections in all; the oldest waiting one makes room)\n"
      "  --header-timeout-ms MS  a request line and headers must arrive within MS of the\n"
      "                       connection (or its previous request), however slowly they\n"
      "                       trickle (default 5000)\n"
      "  --fresh-ttl S        with --key, every answer to a valid request carries a signed\n"
      "                       X-Fota-Fresh statement valid for S seconds (default 3600; 0 = none)\n"
      "  --lifetime S         exit by itself after S seconds (tests)\n"
      "  --build-delay-ms MS  make every package build this much slower (tests of code 43)\n"
      "  --package-url URL    every upgrade is a 302 to URL/<sha256>.fota, a static host holding\n"
      "                       `fota-server export` (or a copy of DATA/cache); LuatOS-Air devices\n"
      "                       only when they ask with need_oss_url=1\n"
      "  --cache-ms MS        projects, configurations and rollouts are cached while the database\n"
      "                       is unchanged, at most MS (default 1000; 0 = no cache)\n"
      "  --console on|off     the web console under /console/ (default on; accounts: user add)\n"
      "  --console-idle-s S   a console session unused for S seconds ends (default 1800)\n"
      "  --console-max-age-s S  and every session ends S seconds after login (default 43200)\n"
      "SIGTERM or SIGINT: stop accepting, finish running requests, write every log row, exit 0.\n" },
    { "project", "add", o_project_add,
      "usage: fota-server project add --name NAME --key PRODUCT_KEY [--owner OWNER]\n"
      "  NAME: 1..64 characters of UTF-8 without control characters (e.g. Air7XXE标准模块),\n"
      "  unique per owner; PRODUCT_KEY what devices send as project_key ([A-Za-z0-9_-], at\n"
      "  most 64); OWNER: a device owned by someone else gets 17.\n" },
    { "project", "list", o_list, "usage: fota-server project list [--owner OWNER]\n"
      "  One line per project: name, product key, owner.\n" },
    { "firmware", "add", o_fw_add,
      "usage: fota-server firmware add --project NAME --bsp BSP --core-version V1104 --core FILE\n"
      "                                --script DIR_OR_FILE --version X.Y.Z [--key key.pem]\n"
      "                                [--lua-project PROJECT]\n"
      "  Stores the core image and the script archive under the data directory. The firmware\n"
      "  name is PROJECT_LuatOS-SoC_BSP, PROJECT the devices' (main.lua), [A-Za-z0-9._-]:\n"
      "  --lua-project, else NAME. Older releases' core images are the bases for deltas.\n" },
    { "firmware", "list", o_list, "usage: fota-server firmware list [--project NAME]\n" },
    { "config", "set", o_config_set,
      "usage: fota-server config set --project NAME --firmware FIRMWARE_NAME [--version X.Y.Z]\n"
      "                              [--core-version V] [--imeis a,b,...|all] [--from C.x.z,...|any]\n"
      "                              [--enabled 0|1] [--reinstall 0|1]\n"
      "  Target: the release with --version/--core-version, else the newest of that name (set\n"
      "  again after adding a release). --imeis limits the upgrade to those devices; --from to\n"
      "  devices reporting those versions (CORE.x.z as sent). Unset options keep their value;\n"
      "  a new configuration starts as all devices, any version, enabled. --reinstall 1: a device\n"
      "  already on the target (CORE.x.z) gets it again, as a package marked reinstall (devices\n"
      "  refuse the running release otherwise); 0 (the default) answers it 27.\n" },
    { "config", "show", o_list, "usage: fota-server config show --project NAME\n" },
    { "device", "add", o_device,
      "usage: fota-server device add --imei IMEI [--project NAME] [--owner OWNER]\n"
      "  Registers a device (unknown devices are registered on first request, with the\n"
      "  project's owner). Owner defaults to the project's.\n" },
    { "device", "ban", o_device_imei, "usage: fota-server device ban --imei IMEI\n" },
    { "device", "unban", o_device_imei,
      "usage: fota-server device unban --imei IMEI\n"
      "  Lifts a loop-upgrade ban (code 40); the day's request count starts again.\n" },
    { "device", "assign", o_device_assign,
      "usage: fota-server device assign --imei IMEI --project NAME\n"
      "  Places the device in the project (owner: the project's). An AT module asking without\n"
      "  a KEY belongs to this project (docs/at.md).\n" },
    { "at", "add", o_at_add,
      "usage: fota-server at add --project NAME --model Air780E --bsp EC618 --version V1016 --image FILE\n"
      "                          [--key key.pem]\n"
      "  An AT firmware release: one whole image (no script), firmware name MODEL_AT_BSP.\n"
      "  Older releases' images are the bases of deltas, built per base version.\n" },
    { "at", "delta", o_at_delta,
      "usage: fota-server at delta --project NAME --model Air780E --bsp EC618 --package dfota.fota\n"
      "  A prebuilt delta package (fotapack build --from-core ...), served as is to modules on\n"
      "  its base version; its target release is made (without an image) when missing.\n" },
    { "at", "family", o_at_family,
      "usage: fota-server at family --model Air780E --project NAME\n"
      "  The default project of a module family: modules of MODEL asking without a KEY whose\n"
      "  IMEI is in no project belong to it.\n" },
    { "at", "defaults", o_at_defaults,
      "usage: fota-server at defaults [--owner OWNER]\n"
      "  The guide's default projects: Air7XXE标准模块 (Air780E, Air780EX, Air780EG), Air7XXF标准模块\n"
      "  (Air780EP, Air780EPS, Air780EQ, Air780ER, Air700ECQ, Air700EMQ, Air700EAQ) and\n"
      "  Air72XUX标准模块 (Air724UG, Air795UG): each made when OWNER has none of that name (a\n"
      "  random ProductKey), and made the default of its models that have none. Prints\n"
      "  name, key, added|kept, models. Running it again changes nothing.\n" },
    { "package", "add", o_package_add,
      "usage: fota-server package add --project NAME [--firmware FIRMWARE_NAME] [--to VERSION]\n"
      "                               [--from V1101,V1102,...|any] [--max-size BYTES] FILE\n"
      "  A vendor package (Luatools' or the AT delta tool's file), served byte for byte to\n"
      "  devices with that firmware name on one of the --from base cores, as an upgrade to\n"
      "  --to: CORE.x.z as LuatOS reports it, CORE.X.Y.Z, or V<core> for AT firmware. Names\n"
      "  PROJECT_CORE.x.z_LuatOS-SoC_BSP.bin|.soc and dfota_final_..._V<from>_V<to>.bin give\n"
      "  what is not given. The release it brings devices to is made when missing (then\n"
      "  config set). --max-size: the file's limit (default 491520, what a module accepts).\n" },
    { "package", "list", o_list, "usage: fota-server package list [--project NAME]\n" },
    { "package", "remove", o_package_remove,
      "usage: fota-server package remove --id N\n"
      "  Removes vendor package N (package list); its release goes too when it holds nothing\n"
      "  else and no configuration names it.\n" },
    { "user", "add", o_user,
      "usage: fota-server user add --name LOGIN --password INITIAL\n"
      "  A web console account (LOGIN: [A-Za-z0-9._@-], e.g. a phone number). The initial\n"
      "  password (8..128 characters) must be changed at the first login. The user's\n"
      "  projects are those whose owner is LOGIN.\n" },
    { "user", "list", o_user, "usage: fota-server user list\n" },
    { "user", "passwd", o_user,
      "usage: fota-server user passwd --name LOGIN --password INITIAL\n"
      "  Resets the password (to be changed at the next login) and ends the user's sessions.\n" },
    { "log", NULL, o_log,
      "usage: fota-server log --imei IMEI [--date YYYY-MM-DD]\n"
      "  One line per request: time, imei, HTTP status, code (0 = package), request, message.\n"
      "  Rows reach the database within --log-flush-ms of the request.\n" },
    { "rollout", "start", o_rollout_start,
      "usage: fota-server rollout start --project NAME --firmware FIRMWARE_NAME --waves 1,10,50,100\n"
      "                                 [--every 1h] [--max-failure 5] [--min-outcomes 20]\n"
      "  Rolls the configuration's current target out in waves (percents of the devices; a\n"
      "  device's wave is a stable hash of its IMEI and the rollout). --every: move to the next\n"
      "  wave this often (30s, 10m, 1h, 2d; default: by 'rollout advance' only). The rollout\n"
      "  pauses by itself when, in a wave, more than --max-failure percent (default 5) of at\n"
      "  least --min-outcomes (default 20) devices sent the package came back on their old\n"
      "  version. Prints the status (JSON).\n" },
    { "rollout", "status", o_rollout, "usage: fota-server rollout status --project NAME --firmware FIRMWARE_NAME\n"
      "  The latest rollout of the configuration as JSON: state, wave, per wave sent / upgraded /\n"
      "  failed / pending and the failure share being judged.\n" },
    { "rollout", "pause", o_rollout, "usage: fota-server rollout pause --project NAME --firmware FIRMWARE_NAME\n"
      "  Nobody new gets the package (27) until resume; outcomes are still recorded.\n" },
    { "rollout", "resume", o_rollout, "usage: fota-server rollout resume --project NAME --firmware FIRMWARE_NAME\n"
      "  Runs a paused rollout again; failures are judged afresh from now (and --every restarts).\n" },
    { "rollout", "abort", o_rollout, "usage: fota-server rollout abort --project NAME --firmware FIRMWARE_NAME\n"
      "  Ends the rollout: nobody gets this target any more (27) until a new rollout or config set\n"
      "  to another release.\n" },
    { "rollout", "advance", o_rollout, "usage: fota-server rollout advance --project NAME --firmware FIRMWARE_NAME\n"
      "  Opens the next wave now.\n" },
    { "export", NULL, o_export,
      "usage: fota-server export DIR [--key key.pem] [--max-size BYTES]\n"
      "  Builds (as the server would, with the same --key and --max-size) every package the\n"
      "  enabled configurations can answer and writes each as DIR/<sha256>.fota, the names\n"
      "  serve --package-url redirects to. Upload DIR to the static host.\n" },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* Option value by name, or NULL. */
static const char *opt(const cmd *c, const char **vals, const char *name)
{
    for (int i = 0; c->opts[i]; i++)
        if (strcmp(c->opts[i], name) == 0) return vals[i];
    return NULL;
}

static int serve(const cmd *c, const char **vals)
{
    srv_serve_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = opt(c, vals, "--db") ? opt(c, vals, "--db") : "fota.db";
    o.data_dir = opt(c, vals, "--data");
    o.listen = opt(c, vals, "--listen");
    o.key_path = opt(c, vals, "--key");
    o.port_file = opt(c, vals, "--port-file");
    o.tls_cert_path = opt(c, vals, "--tls-cert");
    o.tls_key_path = opt(c, vals, "--tls-key");
    o.package_url = opt(c, vals, "--package-url");
    unsigned long idle_s = 0, max_age_s = 0;
    const char *console = opt(c, vals, "--console");
    unsigned long threads = 2, max_size = 0, flush = 100, delay = 0, lifetime = 0, per_address = 0,
                  header_ms = 0, fresh_ttl = SRV_FRESH_TTL, cache_ms = SRV_CACHE_MS, cache_mb = 0;
    const char *bad = NULL;
    if (!o.listen) bad = "--listen IP:PORT is required";
    else if (!o.tls_cert_path != !o.tls_key_path) bad = "--tls-cert and --tls-key go together";
    else if (opt(c, vals, "--threads") && srv_parse_uint(opt(c, vals, "--threads"), 64, &threads)) bad = "--threads: 1..64";
    else if (opt(c, vals, "--max-size") && srv_parse_uint(opt(c, vals, "--max-size"), 0x7fffffff, &max_size))
        bad = "--max-size: bytes";
    else if (opt(c, vals, "--log-flush-ms") && srv_parse_uint(opt(c, vals, "--log-flush-ms"), 3600000, &flush))
        bad = "--log-flush-ms: 1..3600000";
    else if (opt(c, vals, "--build-delay-ms") && srv_parse_uint(opt(c, vals, "--build-delay-ms"), 600000, &delay))
        bad = "--build-delay-ms: 0..600000";
    else if (opt(c, vals, "--lifetime") && srv_parse_uint(opt(c, vals, "--lifetime"), 86400 * 365, &lifetime))
        bad = "--lifetime: seconds";
    else if (opt(c, vals, "--per-address") &&
             (srv_parse_uint(opt(c, vals, "--per-address"), 1000, &per_address) || per_address == 0))
        bad = "--per-address: 1..1000";
    else if (opt(c, vals, "--header-timeout-ms") &&
             (srv_parse_uint(opt(c, vals, "--header-timeout-ms"), 600000, &header_ms) || header_ms < 100))
        bad = "--header-timeout-ms: 100..600000";
    else if (opt(c, vals, "--fresh-ttl") && srv_parse_uint(opt(c, vals, "--fresh-ttl"), 86400 * 366, &fresh_ttl))
        bad = "--fresh-ttl: seconds, 0..31622400";
    else if (opt(c, vals, "--cache-ms") && srv_parse_uint(opt(c, vals, "--cache-ms"), 3600000, &cache_ms))
        bad = "--cache-ms: 0..3600000";
    else if (opt(c, vals, "--cache-size") &&
             (srv_parse_uint(opt(c, vals, "--cache-size"), 1024 * 1024, &cache_mb) || cache_mb == 0))
        bad = "--cache-size: MB, 1..1048576";
    else if (console && strcmp(console, "on") && strcmp(console, "off")) bad = "--console: on or off";
    else if (opt(c, vals, "--console-idle-s") &&
             (srv_parse_uint(opt(c, vals, "--console-idle-s"), 86400 * 30, &idle_s) || idle_s == 0))
        bad = "--console-idle-s: 1..2592000";
    else if (opt(c, vals, "--console-max-age-s") &&
             (srv_parse_uint(opt(c, vals, "--console-max-age-s"), 86400 * 365, &max_age_s) || max_age_s == 0))
        bad = "--console-max-age-s: 1..31536000";
    if (!bad && (threads == 0 || flush == 0)) bad = "--threads and --log-flush-ms must be positive";
    if (bad) {
        fprintf(stderr, "fota-server serve: %s\n%s", bad, c->usage);
        return EXIT_USAGE_ERR;
    }
    o.threads = (unsigned)threads;
    o.max_size = (uint32_t)max_size;
    o.flush_ms = (unsigned)flush;
    o.build_delay_ms = (unsigned)delay;
    o.per_address = (unsigned)per_address;
    o.header_timeout_ms = (unsigned)header_ms;
    o.fresh_ttl = fresh_ttl ? (int)fresh_ttl : -1;
    o.cache_ms = cache_ms ? (int)cache_ms : -1;
    o.cache_size = (uint64_t)cache_mb * 1024 * 1024;
    o.console_off = console && !strcmp(console, "off");
    o.console_idle_s = (unsigned)idle_s;
    o.console_max_age_s = (unsigned)max_age_s;

    /* Signals are taken synchronously by this thread (sigwait): block them
     * before any thread starts so that none of them receives one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* A shell starts background jobs with SIGINT ignored; an ignored signal
     * never reaches sigwait, and SIGINT must stop the server cleanly. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv_server *s = calloc(1, sizeof *s);
    if (!s) return EXIT_IO_ERR;
    if (srv_start(s, &o)) {
        free(s);
        return EXIT_IO_ERR;
    }
    int sig = 0;
    if (lifetime) {
        /* an interrupted wait (a debugger or strace attaching) is not the end of the lifetime */
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (int tries = 0; tries < 1000; tries++) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            time_t left = (time_t)lifetime - (now.tv_sec - start.tv_sec);
            if (left <= 0) break;
            struct timespec ts = { left, 0 };
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig > 0 || errno != EINTR) break;
        }
    } else {
        sigwait(&set, &sig);
    }
    fprintf(stderr, "fota-server: %s, stopping\n", sig > 0 ? "signal" : "lifetime over");
    srv_stop(s);
    free(s);
    fprintf(stderr, "fota-server: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE_ERR : 0;
    }
    const cmd *c = NULL;
    int first = 2;
    for (size_t i = 0; i < NCMDS && !c; i++) {
        if (strcmp(cmds[i].name, argv[1]) != 0) continue;
        if (!cmds[i].sub) c = &cmds[i];
        else if (argc > 2 && strcmp(cmds[i].sub, argv[2]) == 0) {
            c = &cmds[i];
            first = 3;
        }
    }
    if (!c) {
        int known = 0;
        for (size_t i = 0; i < NCMDS; i++) {
            if (strcmp(cmds[i].name, argv[1]) == 0) {
                if (!known) printf("subcommands of %s:\n", argv[1]);
                known = 1;
                fputs(cmds[i].usage, stdout);
            }
        }
        if (known) return argc > 2 && is_help(argv[2]) ? 0 : EXIT_USAGE_ERR;
        fprintf(stderr, "fota-server: unknown command '%s'\n%s", argv[1], usage_main);
        return EXIT_USAGE_ERR;
    }
    const char *vals[32] = { 0 };   /* more than any command's options */
    /* export DIR and package add FILE: the one positional argument (also --dir DIR) */
    const char *positional = NULL;
    int takes_positional = !strcmp(c->name, "export") || (!strcmp(c->name, "package") && !strcmp(c->sub, "add"));
    for (int i = first; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(c->usage, stdout);
            return 0;
        }
        if (takes_positional && !positional && argv[i][0] != '-') {
            positional = argv[i];
            continue;
        }
        int k = -1;
        for (int j = 0; c->opts[j]; j++)
            if (strcmp(c->opts[j], argv[i]) == 0) k = j;
        if (k >= (int)(sizeof vals / sizeof vals[0])) k = -1;   /* never past vals */
        if (k < 0 || i + 1 >= argc) {
            fprintf(stderr, "fota-server: %s '%s'\n%s", k < 0 ? "unknown option" : "missing value for",
                    argv[i], c->usage);
            return EXIT_USAGE_ERR;
        }
        vals[k] = argv[++i];
    }
    if (!strcmp(c->name, "serve")) return serve(c, vals);

    const char *db_path = opt(c, vals, "--db") ? opt(c, vals, "--db") : "fota.db";
    srv_db d;
    /* An AT delta is a file of the data directory, also on PostgreSQL (not
     * in the database yet): without --data it would go with the CLI's
     * temporary cache. */
    if (!strcmp(c->name, "at") && c->sub && !strcmp(c->sub, "delta") && store_is_pg(db_path) &&
        !opt(c, vals, "--data")) {
        fprintf(stderr, "fota-server at delta: on PostgreSQL give --data DIR, the directory the instances serving"
                        " AT deltas share\n");
        return EXIT_USAGE_ERR;
    }
    if (db_open(&d, db_path, opt(c, vals, "--data"), 0)) return EXIT_IO_ERR;
    int rc;
    const char *sub = c->sub ? c->sub : "";
    /* which owner's project a --project names (names are unique per owner) */
    const char *owner = opt(c, vals, "--owner");
    if (!strcmp(c->name, "project"))
        rc = !strcmp(sub, "add") ? cmd_project_add(&d, opt(c, vals, "--name"), opt(c, vals, "--key"),
                                                   opt(c, vals, "--owner"))
                                 : cmd_project_list(&d, owner);
    else if (!strcmp(c->name, "firmware"))
        rc = !strcmp(sub, "add")
                 ? cmd_firmware_add(&d, owner, opt(c, vals, "--project"), opt(c, vals, "--lua-project"),
                                    opt(c, vals, "--bsp"), opt(c, vals, "--core-version"), opt(c, vals, "--core"),
                                    opt(c, vals, "--script"), opt(c, vals, "--version"), opt(c, vals, "--key"))
                 : cmd_firmware_list(&d, owner, opt(c, vals, "--project"));
    else if (!strcmp(c->name, "config"))
        rc = !strcmp(sub, "set")
                 ? cmd_config_set(&d, owner, opt(c, vals, "--project"), opt(c, vals, "--firmware"),
                                  opt(c, vals, "--version"), opt(c, vals, "--core-version"),
                                  opt(c, vals, "--imeis"), opt(c, vals, "--from"), opt(c, vals, "--enabled"),
                                  opt(c, vals, "--reinstall"))
                 : cmd_config_show(&d, owner, opt(c, vals, "--project"));
    else if (!strcmp(c->name, "device") && !strcmp(sub, "assign"))
        rc = cmd_device_assign(&d, owner, opt(c, vals, "--imei"), opt(c, vals, "--project"));
    else if (!strcmp(c->name, "at") && !strcmp(sub, "add"))
        rc = cmd_at_add(&d, owner, opt(c, vals, "--project"), opt(c, vals, "--model"), opt(c, vals, "--bsp"),
                        opt(c, vals, "--version"), opt(c, vals, "--image"), opt(c, vals, "--key"));
    else if (!strcmp(c->name, "at") && !strcmp(sub, "delta"))
        rc = cmd_at_delta(&d, owner, opt(c, vals, "--project"), opt(c, vals, "--model"), opt(c, vals, "--bsp"),
                          opt(c, vals, "--package"));
    else if (!strcmp(c->name, "at") && !strcmp(sub, "defaults"))
        rc = cmd_at_defaults(&d, owner);
    else if (!strcmp(c->name, "at"))
        rc = cmd_at_family(&d, owner, opt(c, vals, "--model"), opt(c, vals, "--project"));
    else if (!strcmp(c->name, "package"))
        rc = !strcmp(sub, "add")    ? cmd_package_add(&d, owner, opt(c, vals, "--project"), opt(c, vals, "--firmware"),
                                                      opt(c, vals, "--to"), opt(c, vals, "--from"),
                                                      opt(c, vals, "--max-size"), positional)
             : !strcmp(sub, "list") ? cmd_package_list(&d, owner, opt(c, vals, "--project"))
                                    : cmd_package_remove(&d, opt(c, vals, "--id"));
    else if (!strcmp(c->name, "rollout"))
        rc = cmd_rollout(&d, owner, sub, opt(c, vals, "--project"), opt(c, vals, "--firmware"), opt(c, vals, "--waves"),
                         opt(c, vals, "--every"), opt(c, vals, "--max-failure"), opt(c, vals, "--min-outcomes"));
    else if (!strcmp(c->name, "export"))
        rc = cmd_export(&d, positional ? positional : opt(c, vals, "--dir"), opt(c, vals, "--key"),
                        opt(c, vals, "--max-size"));
    else if (!strcmp(c->name, "user"))
        rc = !strcmp(sub, "list") ? cmd_user_list(&d)
                                  : cmd_user_set(&d, opt(c, vals, "--name"), opt(c, vals, "--password"),
                                                 !strcmp(sub, "add"));
    else if (!strcmp(c->name, "device"))
        rc = cmd_device(&d, sub, opt(c, vals, "--imei"), opt(c, vals, "--project"), opt(c, vals, "--owner"));
    else
        rc = cmd_log(&d, opt(c, vals, "--imei"), opt(c, vals, "--date"));
    db_close(&d);
    return rc;
}
