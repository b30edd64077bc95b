/* The power-cut injector of the simulator's port (port_sim.c calls it before
 * every storage operation). It owns the cut plan and, for the "lost" mode,
 * a model of what is durable: each file's content as of its last sync.
 *
 *   LUAT_FOTA_POWERCUT=N    the Nth operation of this process is cut "torn"
 *   LUAT_FOTA_FAULTS=FILE   a plan that survives reboots, one line each:
 *                             ops K          operations counted since the last cut
 *                             cut MODE N     the next cuts, in order; N counts from
 *                                            the previous cut (or the start)
 *                           each cut is removed and logged ("hit MODE N OP") as it
 *                           happens; the count is saved at exit, so N may fall in
 *                           any boot.
 * MODE: before (the operation does not happen), torn (it happens: a write
 * only half), lost (it does not happen, and every byte written since its
 * file's last sync is dropped). Operations: write, sync, rename, unlink,
 * create, truncate, mkdir. The cut ends the process with
 * FOTA_PORT_POWERCUT_EXIT, as a module losing power. Power is one per
 * device, so this state is process-wide: the only static state of the port. */
#ifndef FOTA_PORT_FAULT_H
#define FOTA_PORT_FAULT_H

#define FOTA_PORT_POWERCUT_EXIT 76

enum fota_fault_op {
    FOTA_FAULT_WRITE, FOTA_FAULT_SYNC, FOTA_FAULT_RENAME, FOTA_FAULT_UNLINK,
    FOTA_FAULT_CREATE, FOTA_FAULT_TRUNCATE, FOTA_FAULT_MKDIR
};
enum fota_fault_mode { FOTA_FAULT_NONE = 0, FOTA_FAULT_BEFORE, FOTA_FAULT_TORN, FOTA_FAULT_LOST };

/* Counts one operation; the cut mode when the power goes at it. */
enum fota_fault_mode fota_fault_at(enum fota_fault_op op);
/* The power goes: lost mode restores every tracked file to its durable
 * content first. Never returns. */
void fota_fault_power_off(enum fota_fault_mode mode);

/* The durable model (only kept while the next cut is "lost"): */
void fota_fault_opened(const char *path);         /* opened for writing (after a create or truncate) */
void fota_fault_synced(const char *path);         /* its content is durable now */
void fota_fault_renamed(const char *from, const char *to);
void fota_fault_unlinked(const char *path);

#endif
