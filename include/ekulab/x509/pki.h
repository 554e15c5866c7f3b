/* pki.h: the lab PKI, made with the OpenSSL API (never the openssl program).
 *
 * A PKI directory holds:
 *   ca.crt                 the trust bundle (the root certificate)
 *   root.key               root private key (0600)
 *   ca-<kind>.crt/.key     issuing CAs: unrestricted (no EKU), server-only
 *                          (EKU serverAuth), combined (serverAuth+clientAuth)
 *   ca-admin.crt/.key      the admin CA (pki_admin_init, on demand):
 *                          issues only the certificates of the nodes'
 *                          network admin channel (admintls.h)
 *   <NAME>.crt / .key      leaves: the leaf then its issuing CA; key 0600
 */
#ifndef EKULAB_PKI_H
#define EKULAB_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pki_ca { PKI_CA_UNRESTRICTED = 0, PKI_CA_SERVER_ONLY, PKI_CA_COMBINED };
enum pki_profile {
	PKI_PROFILE_COMBINED = 0, /* serverAuth + clientAuth */
	PKI_PROFILE_SERVER_ONLY,  /* serverAuth */
	PKI_PROFILE_CLIENT_ONLY,  /* clientAuth */
	PKI_PROFILE_NO_EKU,	  /* no EKU extension */
	PKI_PROFILE_ANY_EKU,	  /* anyExtendedKeyUsage only */
};
enum pki_key { PKI_KEY_EC_P256 = 0, PKI_KEY_RSA_2048 };

/* Names as used on the command line ("unrestricted", "server-only", ...).
 * parse functions return 0 or EKL_EINVAL. */
const char *pki_ca_name(enum pki_ca ca);
int pki_ca_parse(const char *s, enum pki_ca *out);
const char *pki_profile_name(enum pki_profile p);
int pki_profile_parse(const char *s, enum pki_profile *out);
const char *pki_key_name(enum pki_key k);
int pki_key_parse(const char *s, enum pki_key *out);

/* Create the root and the three issuing CAs in dir (created if missing,
 * 0700). Refuses (EKL_EEXIST) when dir already holds a PKI unless force.
 * Root and issuing CAs are valid from now-1 day for 20 years. */
int pki_init(const char *dir, bool force, char *err);

#define PKI_MAX_SANS 16

struct pki_leaf_opts {
	const char *name; /* file stem, subject CN and default DNS SAN */
	enum pki_profile profile;
	enum pki_ca ca; /* ignored when self_signed */
	bool self_signed;
	const char *sans[PKI_MAX_SANS]; /* DNS names or IP addresses; when
					   n_sans is 0, `name` is the SAN */
	size_t n_sans;
	/* Validity: when not_before/not_after are both non-zero they are used;
	 * otherwise from now-1 hour for `days` days (default 365 when 0). */
	int64_t not_before;
	int64_t not_after;
	int days;
	enum pki_key key;
	bool force; /* overwrite existing NAME.crt/NAME.key */
	/* Issued by the admin CA (ca-admin, pki_admin_init) instead of `ca`:
	 * a certificate of the network admin channel. */
	bool admin;
};

/* The admin CA's subject CN. */
#define PKI_ADMIN_CA_CN "ekulab admin CA"

/* Make dir/ca-admin.crt and .key (0600), signed by the root of the PKI in
 * dir, unless they exist. It is an issuing CA of its own so that an admin
 * certificate is told from a node's by its issuer (admintls.h). Needs
 * dir/root.key; EKL_ENOENT when the PKI is missing. */
int pki_admin_init(const char *dir, char *err);

/* Issue a leaf into dir: dir/NAME.crt (leaf then issuing CA) and
 * dir/NAME.key (0600). Refuses (EKL_EEXIST) to overwrite without force.
 * Writes both files or neither. */
int pki_issue(const char *dir, const struct pki_leaf_opts *o, char *err);

/* Parse a time given as "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@EPOCH"
 * into seconds since the epoch (UTC). Returns 0 or EKL_EINVAL. */
int pki_parse_time(const char *s, int64_t *out);

#endif
