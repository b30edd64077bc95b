#include "core/sig.h"

#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>

#include "core/bytes.h"
#include "core/fota_err.h"

typedef struct {
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
} rng_ctx;

static int rng_init(rng_ctx *g)
{
    static const unsigned char pers[] = "luat-fota";
    mbedtls_entropy_init(&g->ent);
    mbedtls_ctr_drbg_init(&g->drbg);
    return mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->ent, pers, sizeof pers - 1)
               ? FOTA_ERR_IO : 0;
}

static void rng_free(rng_ctx *g)
{
    mbedtls_ctr_drbg_free(&g->drbg);
    mbedtls_entropy_free(&g->ent);
}

static int pem_len(const char *pem, size_t *len)
{
    if (!pem) return FOTA_ERR_ARG;
    size_t n = strnlen(pem, FOTA_SIG_MAX_PEM);
    if (n == 0 || n >= FOTA_SIG_MAX_PEM) return FOTA_ERR_ARG;
    *len = n + 1;   /* mbedTLS wants the NUL counted for PEM */
    return 0;
}

static int is_p256(mbedtls_pk_context *pk)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) return 0;
    return mbedtls_pk_ec(*pk)->FOTA_MBED_PRIV(grp).id == MBEDTLS_ECP_DP_SECP256R1;
}

void fota_sig_key_init(fota_sig_key *k) { mbedtls_pk_init(&k->pk); }
void fota_sig_key_free(fota_sig_key *k) { mbedtls_pk_free(&k->pk); }

static int load_private(mbedtls_pk_context *pk, const char *pem, rng_ctx *g)
{
    size_t len;
    if (pem_len(pem, &len)) return FOTA_ERR_ARG;
#if MBEDTLS_VERSION_MAJOR >= 3
    int rc = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len, NULL, 0,
                                  mbedtls_ctr_drbg_random, &g->drbg);
#else
    (void)g;
    int rc = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len, NULL, 0);
#endif
    return (rc == 0 && is_p256(pk)) ? 0 : FOTA_ERR_ARG;
}

int fota_sig_key_load_private(fota_sig_key *k, const char *pem)
{
    rng_ctx g;
    int rc = rng_init(&g);
    if (rc == 0) rc = load_private(&k->pk, pem, &g);
    rng_free(&g);
    return rc;
}

int fota_sig_key_load_public(fota_sig_key *k, const char *pem)
{
    size_t len;
    if (pem_len(pem, &len)) return FOTA_ERR_ARG;
    int rc = mbedtls_pk_parse_public_key(&k->pk, (const unsigned char *)pem, len);
    return (rc == 0 && is_p256(&k->pk)) ? 0 : FOTA_ERR_ARG;
}

int fota_sig_key_id(const char *pub_pem, uint8_t id[32])
{
    unsigned char der[160];   /* a P-256 SubjectPublicKeyInfo is 91 bytes */
    fota_sig_key k;
    int n, rc;
    fota_sig_key_init(&k);
    rc = fota_sig_key_load_public(&k, pub_pem);
    n = rc == 0 ? mbedtls_pk_write_pubkey_der(&k.pk, der, sizeof der) : 0;
    fota_sig_key_free(&k);
    if (n <= 0)
        return FOTA_ERR_ARG;
    /* mbedTLS writes at the end of the buffer */
    return fota_sha256(der + sizeof der - (size_t)n, (size_t)n, id) == 0 ? 0 : FOTA_ERR_ARG;
}

int fota_sig_sign(fota_sig_key *k, const uint8_t hash[32], uint8_t sig[FOTA_SIG_RAW_LEN])
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    mbedtls_mpi r, s;
    rng_ctx g;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = rng_init(&g);
    /* Deterministic (RFC 6979); the RNG only blinds the computation. */
    if (rc == 0)
        rc = mbedtls_ecdsa_sign_det_ext(&ec->FOTA_MBED_PRIV(grp), &r, &s, &ec->FOTA_MBED_PRIV(d), hash,
                                        32, MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random, &g.drbg);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r, sig, 32);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    rng_free(&g);
    return rc ? FOTA_ERR_IO : 0;
}

int fota_sig_verify(fota_sig_key *k, const uint8_t hash[32], const uint8_t sig[FOTA_SIG_RAW_LEN])
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = mbedtls_mpi_read_binary(&r, sig, 32);
    if (rc == 0) rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
    if (rc == 0)
        rc = mbedtls_ecdsa_verify(&ec->FOTA_MBED_PRIV(grp), hash, 32, &ec->FOTA_MBED_PRIV(Q), &r, &s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? FOTA_SIG_E_BAD : 0;
}

int fota_sig_keygen(char *priv_pem, size_t priv_cap, char *pub_pem, size_t pub_cap)
{
    if (!priv_pem || !priv_cap || (pub_pem && !pub_cap)) return FOTA_ERR_ARG;
    rng_ctx g;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = rng_init(&g);
    if (rc == 0 && (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
                    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                        mbedtls_ctr_drbg_random, &g.drbg) != 0))
        rc = FOTA_ERR_IO;
    if (rc == 0 && mbedtls_pk_write_key_pem(&pk, (unsigned char *)priv_pem, priv_cap) != 0)
        rc = FOTA_ERR_RANGE;
    if (rc == 0 && pub_pem &&
        mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pub_pem, pub_cap) != 0)
        rc = FOTA_ERR_RANGE;
    mbedtls_pk_free(&pk);
    rng_free(&g);
    return rc;
}

int fota_sig_pubkey_from_private(const char *priv_pem, char *pub_pem, size_t pub_cap)
{
    if (!priv_pem || !pub_pem || !pub_cap) return FOTA_ERR_ARG;
    fota_sig_key k;
    fota_sig_key_init(&k);
    int rc = fota_sig_key_load_private(&k, priv_pem);
    if (rc == 0 && mbedtls_pk_write_pubkey_pem(&k.pk, (unsigned char *)pub_pem, pub_cap) != 0)
        rc = FOTA_ERR_RANGE;
    fota_sig_key_free(&k);
    return rc;
}
