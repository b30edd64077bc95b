/* A/B slots and the boot record of a (simulated) module.
 *
 * The device keeps two core slots and two script slots and a boot record
 * saying which pair runs. The record is stored twice with a sequence number
 * and a CRC; the newer valid copy wins, and an update rewrites the older
 * copy, so a torn record write leaves the previous state in force.
 *
 * An upgrade writes the inactive slots, checks what it wrote, syncs, and
 * only then flips the record to "trying" the new pair. A trying pair that is
 * not confirmed within its boots, or whose images no longer match their
 * hashes, is rolled back at boot. So a power cut at any write leaves the
 * device booting either the old or the new image, never neither.
 *
 * The record also holds the device's provisioning: once a signing key is
 * provisioned (its id, sig.h's fota_sig_key_id) every later record keeps
 * it, and fota_slots_base_policy refuses any package unless the policy's key
 * is that very key: a lost or swapped key file fails closed. */
#ifndef FOTA_SLOTS_H
#define FOTA_SLOTS_H

#include <stddef.h>
#include <stdint.h>
#include "core/pkg.h"

#define FOTA_SLOTS_PATH_MAX 480
#define FOTA_SLOTS_VERSION_MAX 32
#define FOTA_SLOTS_DEFAULT_TRIES 3

enum fota_boot_state { FOTA_BOOT_CONFIRMED = 0, FOTA_BOOT_TRYING = 1 };
enum fota_boot_result { FOTA_RESULT_NONE = 0, FOTA_RESULT_UPDATED = 1, FOTA_RESULT_ROLLED_BACK = 2 };
enum fota_boot_reason {
    FOTA_REASON_NONE = 0,
    FOTA_REASON_NOT_CONFIRMED = 1,  /* booted its tries without fota.confirm() */
    FOTA_REASON_BAD_IMAGE = 2,      /* a slot no longer matches its hash */
    FOTA_REASON_REQUESTED = 3       /* fota.rollback() */
};

typedef struct {
    uint8_t core_slot, script_slot;            /* 0 = A, 1 = B */
    uint32_t core_version;                     /* 1103 for V1103 */
    char script_version[FOTA_SLOTS_VERSION_MAX];
    uint32_t core_len, script_len;
    uint8_t core_sha256[32], script_sha256[32];
} fota_image;

typedef struct {
    uint32_t seq;
    uint8_t state;         /* enum fota_boot_state */
    uint8_t tries_left;    /* boots the trying pair may still take */
    uint8_t last_result;   /* enum fota_boot_result */
    uint8_t reason;        /* enum fota_boot_reason of the last rollback */
    fota_image active, prev;
    uint8_t key_provisioned;   /* 1: only packages signed by key_id are accepted */
    uint8_t key_id[32];
    uint8_t last_pkg_sha256[32];   /* the package last committed (zero: none) */
} fota_boot_record;

typedef struct {
    char dir[FOTA_SLOTS_PATH_MAX];   /* the device directory */
} fota_slots;

int fota_slots_init(fota_slots *s, const char *device_dir);

/* FOTA_ERR_NOENT when no copy is valid (a device never flashed). */
int fota_slots_read(const fota_slots *s, fota_boot_record *rec);
/* Stores rec with seq + 1 into the older copy and syncs it. */
int fota_slots_write(const fota_slots *s, fota_boot_record *rec);

/* The device's provisioned signing key, DEVICE/fota/trusted.pem, into buf
 * (NUL-terminated, at most cap - 1 bytes): 1 when there is one, 0 when there
 * is none (no file, or empty), or an error (a file that cannot be read is
 * not "no key": a caller fails closed). */
int fota_slots_trusted_key(const char *device_dir, char *buf, size_t cap);
/* Its size in bytes into *size, 0 when there is none: a caller sizes buf
 * (cap = size + 1) to it rather than keep a largest-key buffer. FOTA_OK, or
 * an error other than a missing file. */
int fota_slots_trusted_key_size(const char *device_dir, uint64_t *size);

/* Path of a slot file: kind 'c' core, 's' script. */
int fota_slots_path(const fota_slots *s, char kind, unsigned slot, char *out, size_t len);

/* Factory flash: core image file and script archive into slots A, record
 * confirmed. Either input may be NULL (an empty image). A provisioned key
 * survives a flash. */
int fota_slots_flash(const fota_slots *s, const char *core_image, uint32_t core_version,
                     const char *script_archive, const char *script_version);

/* Provisions the signing key pub_pem, once: FOTA_OK (also when that key is
 * already provisioned), FOTA_ERR_STATE when another key is, FOTA_ERR_ARG
 * when pub_pem is no P-256 public key, FOTA_ERR_NOENT when never flashed. */
int fota_slots_provision_key(const fota_slots *s, const char *pub_pem);

/* Trust on first sight: a flashed device never provisioned that finds a
 * usable signing key (pub_pem, the contents of DEVICE/fota/trusted.pem) is
 * provisioned with it, as a key present at the factory flash provisions it.
 * Returns 1 when it provisioned now; 0 when there was nothing to do
 * (already provisioned, with this key or another; pub_pem NULL, empty or no
 * P-256 public key, as a torn file is; never flashed); else the record's
 * read or write error. */
int fota_slots_provision_found(const fota_slots *s, const char *pub_pem);

/* Verifies the package at pkg_path against pol (the running image fills in
 * the base core hash and the versions when pol leaves them unset), writes its
 * sections into the inactive slots, checks them, and flips the record to try
 * the new pair for `tries` boots. Returns 0 or a FOTA_PKG_E_* / fota_err code. */
int fota_slots_commit(const fota_slots *s, const char *pkg_path, const fota_pkg_policy *pol,
                      uint8_t tries);

/* Fills what pol leaves unset from the running image of rec: the base core
 * (version, hash, and read access so a core delta's result is checked) and
 * the script version floor. *core is the opened running core slot: close it
 * after the verification (pol points into rec and *core until then).
 * On a provisioned device pol->pubkey_pem must be the provisioned key:
 * FOTA_PKG_E_KEY_MISSING (none or empty) or FOTA_PKG_E_KEY_CHANGED. */
int fota_slots_base_policy(const fota_slots *s, const fota_boot_record *rec, fota_pkg_policy *pol,
                           fota_port_file **core);

/* At boot, before fota_slots_boot: a package staged complete (its ready
 * marker, stage.h) but never committed -- the power failed in between, or a
 * LuatOS-style script staged it and rebooted -- is committed now with pol.
 * Returns FOTA_SLOTS_NOTHING_STAGED (no marker, no record, or an upgrade on
 * trial), FOTA_SLOTS_ALREADY_APPLIED (nothing written) when it is the package
 * last committed -- its stage outlived a cut after the commit, and applying
 * it again would undo a rollback or drop the old image -- else
 * fota_slots_commit's result. The staged package is dropped once applied,
 * already applied, or refused as a package. */
#define FOTA_SLOTS_ALREADY_APPLIED 1
#define FOTA_SLOTS_NOTHING_STAGED 2
int fota_slots_apply_staged(const fota_slots *s, const char *stage_path, const fota_pkg_policy *pol);

/* At boot: counts a trying boot, rolls back an unconfirmed or damaged pair,
 * and returns the record in force. FOTA_ERR_NOENT: never flashed;
 * FOTA_ERR_FORMAT: no valid image at all (bricked); FOTA_ERR_NOMEM: no
 * buffer to hash an image with, nothing changed. */
int fota_slots_boot(const fota_slots *s, fota_boot_record *rec);

int fota_slots_confirm(const fota_slots *s);
/* Back to the previous pair (which must still match its hashes). */
int fota_slots_rollback(const fota_slots *s, uint8_t reason);

/* 0 when both images of img match their recorded lengths and hashes;
 * FOTA_ERR_NOMEM when it could not tell, else FOTA_ERR_FORMAT. */
int fota_slots_check_image(const fota_slots *s, const fota_image *img);

#endif
