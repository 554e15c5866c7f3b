/* matrix.h: the live truth table: real handshakes vs the policy model. */
#ifndef EKULAB_CLI_MATRIX_H
#define EKULAB_CLI_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"

/* One side of a case: a node's version, mode and what it presents. */
struct mx_side {
	const char *version; /* "X14.3.7", "X15.3.2", "X15.4", "X15.5" */
	enum pol_mode mode;
	bool client_eku_check;
	/* Server certificate: profile and issuing CA of the lab PKI; `other`
	 * takes it from an unrelated PKI (not trusted). */
	enum pki_profile profile;
	enum pki_ca ca;
	bool other_pki;
	bool expired; /* validity ended yesterday */
	bool not_yet; /* validity starts tomorrow */
	/* X15.5 client certificate (initiator only). */
	bool has_client;
	enum pki_profile client_profile;
	bool no_cert; /* present no certificate at all (initiator) */
};

struct mx_verdict {
	bool ok;
	enum pol_side side;
	enum pol_code code;
	int depth;
};

struct mx_case {
	const char *group; /* "cross", "x15.5", "edge" */
	struct mx_side ini;
	struct mx_side acc;
	enum pol_service service;
	const char *ini_expects; /* name the initiator expects (normally
				    "acceptor") */
	struct mx_verdict predicted;
	struct mx_verdict observed;
	/* What the non-rejecting side learned from the TLS alert; agrees
	 * when it names the same code. */
	enum pol_code peer_saw;
	char detail[200]; /* observed failure text */
	bool agree;
};

struct mx_run {
	struct mx_case *cases; /* owned */
	size_t n;
	size_t disagreements;
	double seconds;
};

/* Build the case list, a lab PKI in a temporary directory, run every case
 * over loopback TCP with the daemon's TLS code, and compare with
 * pol_decide(). jobs > 1 splits the cases over that many processes. */
int mx_run(struct mx_run *r, int jobs, char *err);
void mx_run_free(struct mx_run *r);

struct mx_opts {
	int jobs;  /* worker processes, 1-16 */
	bool json; /* {"total", "disagreements", "seconds", "cases": [...]} */
	bool all;  /* text: every case, not only X15.5, edge and disagreeing */
	FILE *out;
};

/* mx_run(), then the table as text or JSON to o->out. Returns 0 when model
 * and handshakes agree on every case, 1 when a case disagrees, 2 when the
 * run failed (err). */
int mx_show(const struct mx_opts *o, char *err);

/* Short label of a side's certificate, e.g. "server-only/so" */
void mx_cert_label(const struct mx_side *s, char *buf, size_t len);

#endif
