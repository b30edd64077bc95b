/* Signatures: ECDSA P-256 keys (PEM: SEC1 private, SPKI public) and raw
 * r||s signatures over a 32-byte digest, on mbedTLS. A package is signed
 * by its writer and checked by its reader with these. */
#ifndef FOTA_SIG_H
#define FOTA_SIG_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#define FOTA_SIG_RAW_LEN 64
#define FOTA_SIG_MAX_PEM 16384     /* longer key text is refused */

/* A loaded key; init before use, free after (also after a failed load). */
typedef struct fota_sig_key {
    mbedtls_pk_context pk;
} fota_sig_key;

void fota_sig_key_init(fota_sig_key *k);
void fota_sig_key_free(fota_sig_key *k);
/* NUL-terminated PEM. 0, or FOTA_ERR_ARG when it is no P-256 key. */
int fota_sig_key_load_public(fota_sig_key *k, const char *pem);
int fota_sig_key_load_private(fota_sig_key *k, const char *pem);
/* The key's identity: SHA-256 of its DER SubjectPublicKeyInfo, so the same
 * key in any PEM layout has one id. 0, or FOTA_ERR_ARG for no P-256 key. */
int fota_sig_key_id(const char *pub_pem, uint8_t id[32]);

/* Deterministic (RFC 6979) signature of hash with a private key.
 * 0, or FOTA_ERR_IO when the computation fails. */
int fota_sig_sign(fota_sig_key *k, const uint8_t hash[32], uint8_t sig[FOTA_SIG_RAW_LEN]);
/* 0 when sig is the key's signature of hash, else FOTA_SIG_E_BAD. */
#define FOTA_SIG_E_BAD 1
int fota_sig_verify(fota_sig_key *k, const uint8_t hash[32], const uint8_t sig[FOTA_SIG_RAW_LEN]);

/* A new key pair as PEM text; pub_pem may be NULL. */
int fota_sig_keygen(char *priv_pem, size_t priv_cap, char *pub_pem, size_t pub_cap);
/* Public key PEM from a private key PEM (NUL-terminated). */
int fota_sig_pubkey_from_private(const char *priv_pem, char *pub_pem, size_t pub_cap);

#endif
