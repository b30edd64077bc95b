/* The power-cut injector: see port_fault.h. Its own file I/O (the plan, the
 * durable model) uses plain system calls and is never counted or cut. */
#include "port/sim/port_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CUTS 8
#define MAX_TRACKED 64
#define MAX_DURABLE_BYTES (32u * 1024u * 1024u)   /* a test device is far smaller */
#define PLAN_MAX 4096

typedef struct {
    char path[1024];
    int existed;          /* the file was there, durably, with this content */
    unsigned char *data;
    size_t len;
} tracked;

static struct {
    int loaded;
    const char *plan_path;       /* NULL: LUAT_FOTA_POWERCUT (this process only) */
    enum fota_fault_mode mode[MAX_CUTS];
    long at[MAX_CUTS];
    int ncuts;
    long ops;                    /* counted since the last cut */
    long saved_ops;
    tracked files[MAX_TRACKED];
    int nfiles;
    size_t durable_bytes;
} F;

static const char *const op_names[] = { "write", "sync", "rename", "unlink", "create", "truncate", "mkdir" };
static const char *const mode_names[] = { "none", "before", "torn", "lost" };

static void die(const char *why)
{
    fprintf(stderr, "luat-fota fault injector: %s\n", why);
    _exit(70);
}

static enum fota_fault_mode parse_mode(const char *s)
{
    for (int m = FOTA_FAULT_BEFORE; m <= FOTA_FAULT_LOST; m++)
        if (strcmp(s, mode_names[m]) == 0)
            return (enum fota_fault_mode)m;
    return FOTA_FAULT_NONE;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    return n;
}

static void write_all(int fd, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot write");
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* The plan without the cuts done, the count so far, and the cut just hit. */
static void save_plan(const char *hit)
{
    char buf[PLAN_MAX], old[PLAN_MAX];
    size_t n = 0, logged = 0;
    int fd;

    if (!F.plan_path)
        return;
    /* keep the log of earlier hits */
    if ((fd = open(F.plan_path, O_RDONLY | O_CLOEXEC)) >= 0) {
        size_t got = read_all(fd, old, sizeof old - 1);
        close(fd);
        old[got] = '\0';
        for (char *line = strtok(old, "\n"); line; line = strtok(NULL, "\n"))
            if (strncmp(line, "hit ", 4) == 0 && logged + strlen(line) + 1 < sizeof buf / 2) {
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", line);
                logged = n;
            }
    }
    if (hit)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", hit);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "ops %ld\n", F.ops);
    for (int i = 0; i < F.ncuts && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "cut %s %ld\n", mode_names[F.mode[i]], F.at[i]);
    if (n >= sizeof buf)
        die("plan too long");
    if ((fd = open(F.plan_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
        die("cannot rewrite the plan");
    write_all(fd, buf, n);
    fsync(fd);
    close(fd);
    F.saved_ops = F.ops;
}

static void save_at_exit(void)
{
    if (F.ncuts > 0 && F.ops != F.saved_ops)
        save_plan(NULL);
}

static void load(void)
{
    const char *n = getenv("LUAT_FOTA_POWERCUT");
    const char *plan = getenv("LUAT_FOTA_FAULTS");
    char buf[PLAN_MAX];
    int fd;

    F.loaded = 1;
    if (plan && *plan) {
        if ((fd = open(plan, O_RDONLY | O_CLOEXEC)) < 0)
            die("cannot read LUAT_FOTA_FAULTS");
        size_t got = read_all(fd, buf, sizeof buf - 1);
        close(fd);
        buf[got] = '\0';
        F.plan_path = plan;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            char mode[16];
            long v;
            if (sscanf(line, "ops %ld", &v) == 1 && v >= 0) {
                F.ops = F.saved_ops = v;
            } else if (sscanf(line, "cut %15s %ld", mode, &v) == 2) {
                if (F.ncuts == MAX_CUTS || v < 1 || !(F.mode[F.ncuts] = parse_mode(mode)))
                    die("bad cut in the plan");
                F.at[F.ncuts++] = v;
            } else if (strncmp(line, "hit ", 4) != 0) {
                die("bad line in the plan");
            }
        }
        if (F.ncuts > 0)
            atexit(save_at_exit);
    } else if (n && strtol(n, NULL, 10) > 0) {
        F.mode[0] = FOTA_FAULT_TORN;
        F.at[0] = strtol(n, NULL, 10);
        F.ncuts = 1;
    }
}

enum fota_fault_mode fota_fault_at(enum fota_fault_op op)
{
    char hit[96];
    enum fota_fault_mode m;

    if (!F.loaded)
        load();
    if (F.ncuts == 0 || ++F.ops < F.at[0])
        return FOTA_FAULT_NONE;
    m = F.mode[0];
    snprintf(hit, sizeof hit, "hit %s %ld %s", mode_names[m], F.at[0], op_names[op]);
    F.ncuts--;
    memmove(F.mode, F.mode + 1, sizeof F.mode[0] * (size_t)F.ncuts);
    memmove(F.at, F.at + 1, sizeof F.at[0] * (size_t)F.ncuts);
    F.ops = 0;
    save_plan(hit);
    return m;
}

static int lost_next(void)
{
    if (!F.loaded)
        load();
    return F.ncuts > 0 && F.mode[0] == FOTA_FAULT_LOST;
}

static tracked *find(const char *path)
{
    for (int i = 0; i < F.nfiles; i++)
        if (strcmp(F.files[i].path, path) == 0)
            return &F.files[i];
    return NULL;
}

static void forget(tracked *t)
{
    F.durable_bytes -= t->len;
    free(t->data);
    *t = F.files[--F.nfiles];
}

/* t's durable content := what the file holds now. */
static void snapshot(tracked *t, int fd)
{
    struct stat st;
    F.durable_bytes -= t->len;
    free(t->data);
    t->data = NULL;
    t->len = 0;
    t->existed = fd >= 0;
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size > MAX_DURABLE_BYTES - F.durable_bytes)
        die("cannot keep the durable model (file too large)");
    t->len = (size_t)st.st_size;
    if (t->len && !(t->data = malloc(t->len)))
        die("out of memory");
    for (size_t done = 0; done < t->len;) {
        ssize_t r = pread(fd, t->data + done, t->len - done, (off_t)done);
        if (r <= 0)
            die("cannot read a tracked file");
        done += (size_t)r;
    }
    F.durable_bytes += t->len;
}

void fota_fault_opened(const char *path)
{
    tracked *t;
    int fd;
    if (!lost_next() || find(path))
        return;
    if (F.nfiles == MAX_TRACKED || strlen(path) >= sizeof t->path)
        die("too many files to track");
    t = &F.files[F.nfiles++];
    memset(t, 0, sizeof *t);
    memcpy(t->path, path, strlen(path) + 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    snapshot(t, fd);
    if (fd >= 0)
        close(fd);
}

void fota_fault_synced(const char *path)
{
    tracked *t = lost_next() ? find(path) : NULL;
    int fd;
    if (!t)
        return;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        die("cannot read a synced file");
    snapshot(t, fd);
    close(fd);
}

void fota_fault_renamed(const char *from, const char *to)
{
    tracked *t;
    if (!lost_next())
        return;
    if ((t = find(to)))
        forget(t);
    if ((t = find(from)))
        memcpy(t->path, to, strlen(to) + 1);   /* the content moves with its name */
}

void fota_fault_unlinked(const char *path)
{
    tracked *t = lost_next() ? find(path) : NULL;
    if (t)
        forget(t);
}

void fota_fault_power_off(enum fota_fault_mode mode)
{
    if (mode == FOTA_FAULT_LOST) {
        for (int i = 0; i < F.nfiles; i++) {
            tracked *t = &F.files[i];
            if (!t->existed) {
                unlink(t->path);   /* never synced: it never was */
                continue;
            }
            int fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0)
                die("cannot restore a tracked file");
            write_all(fd, t->data, t->len);
            close(fd);
        }
    }
    _exit(FOTA_PORT_POWERCUT_EXIT);
}
