/* admintls.h: the network admin channel's TLS: contexts with the admin
 * rule, and a relay that carries the admin protocol's byte stream between
 * a plain stream socket and a TLS session.
 *
 * The admin rule (docs/node.md, "Network admin channel"). Both ends trust
 * exactly one certificate, the lab's admin CA (pki/ca-admin.crt, made by
 * pki_admin_init), and nothing else: not the lab root, not the issuing CAs
 * the nodes' ClusterDB certificates come from. A peer's certificate is
 * accepted when OpenSSL verifies it with the admin CA as the only trust
 * anchor (so it was issued directly by it, and is valid now), and its
 * extendedKeyUsage extension is present and names the purpose of its side:
 * clientAuth for the admin client (ekulab), serverAuth for the node. The
 * node requires a certificate (no certificate: the handshake fails); the
 * client checks the node's certificate names the node it dialled. TLS 1.3
 * only. This is the admin channel's own rule, not an Expressway's: it
 * never goes through pol_rules(), whatever the node's ClusterDB
 * certificates or version.
 *
 * Ownership: an SSL_CTX from admintls_ctx_new is the caller's (SSL_CTX_free).
 * A relay owns both sockets it is given and closes them when freed.
 * Nothing here is thread safe, but distinct relays may run on distinct
 * threads.
 */
#ifndef EKULAB_ADMINTLS_H
#define EKULAB_ADMINTLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* The admin CA and one side's certificate chain and key (mode 0600). */
struct admintls_files {
	const char *ca;
	const char *cert;
	const char *key;
};

/* A context for the node (server: requires a client certificate under the
 * admin rule) or for ekulab (client). err names the file and what to do. */
int admintls_ctx_new(const struct admintls_files *f, bool server, SSL_CTX **out,
		     char *err);

struct admintls_relay;

/* A relay over net_fd (a connected non-blocking TCP socket), handshake
 * first. expect: the node's name, which its certificate must carry
 * (client side; ignored on the server). Takes net_fd, also on error. */
int admintls_relay_new(SSL_CTX *ctx, int net_fd, bool server,
		       const char *expect, struct admintls_relay **out,
		       char *err);
/* Once up: the plain side, a non-blocking stream socket (a socketpair
 * end whose other end the admin protocol's client or server uses).
 * Taken over. Until then, pump only handshakes. */
void admintls_relay_attach(struct admintls_relay *r, int plain_fd);
/* Closes both sockets. Accepts NULL. */
void admintls_relay_free(struct admintls_relay *r);

enum admintls_step {
	ADMINTLS_AGAIN = 0, /* wait for the events asked, then pump again */
	ADMINTLS_DONE,	    /* both directions ended in order */
	ADMINTLS_FAILED,    /* see admintls_relay_error */
};

/* Move what can be moved: the handshake first, then (once a plain side is
 * attached) bytes both ways. On ADMINTLS_AGAIN, *net_ev and *plain_ev say what
 * to wait for on each socket (POLLIN / POLLOUT bits; either may be 0). */
enum admintls_step admintls_relay_pump(struct admintls_relay *r, short *net_ev,
				       short *plain_ev);
/* The TCP socket and the plain one (-1 before attach), for poll. */
void admintls_relay_fds(const struct admintls_relay *r, int *net, int *plain);
/* The handshake completed (the peer's certificate met the rule). */
bool admintls_relay_up(const struct admintls_relay *r);
/* Why the relay failed: the verify error or TLS alert, in words. */
const char *admintls_relay_error(const struct admintls_relay *r);
/* The peer certificate's subject CN, "" before the handshake. */
const char *admintls_relay_peer(const struct admintls_relay *r);

#endif
