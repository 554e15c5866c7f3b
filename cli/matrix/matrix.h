/* matrix.h: the live truth table: real handshakes vs the policy model. */
#ifndef EKULAB_CLI_MATRIX_H
#define EKULAB_CLI_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"

/* One side of a case: an Expressway node (version, mode, role, X15.5
 * settings) or an external peer (kind, mode, checks_client_eku), and what
 * it presents. */
struct mx_side {
	enum pol_kind kind;    /* POL_KIND_EXPRESSWAY or an external kind */
	const char *version;   /* Expressway: "X14.3.7", "X15.3.2", "X15.4",
				  "X15.5"; NULL for an external */
	enum pol_role role;    /* Expressway only */
	enum pol_mode mode;    /* external: permissive = does not verify */
	bool client_eku_check; /* Expressway X15.5: node-wide default */
	/* Expressway X15.5: per-service overrides of client_eku_check. */
	enum pol_switch client_eku_service[POL_SVC_COUNT];
	bool checks_client_eku; /* external acceptor: checks clientAuth */
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
	/* "cross", "x15.5", "edge" (ClusterDB and the X15.5 switch);
	 * "services", "mra", "zone-edge" (the zone services). */
	const char *group;
	struct mx_side ini;
	struct mx_side acc;
	/* For mra: the traversal handshake, then E's certificate chain in a
	 * message that C checks with tls_verify_chain(). */
	enum pol_service service;
	/* Text grid placement (groups services and mra): the block title,
	 * the row and the column label. */
	const char *block;
	char row[40];
	char col[24];
	const char *ini_expects; /* name the initiator expects (normally
				    "acceptor") */
	struct mx_verdict predicted;
	struct mx_verdict observed;
	/* What the non-rejecting side learned from the TLS alert (for the
	 * MRA message: from C's answer to it); agrees when it names the same
	 * code. */
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
/* The same, with "matrix: N of M handshakes" redrawn on progress (a
 * terminal) as the cases come back; NULL: none. */
int mx_run_progress(struct mx_run *r, int jobs, FILE *progress, char *err);
void mx_run_free(struct mx_run *r);

struct mx_opts {
	int jobs;  /* worker processes, 1-16 */
	bool json; /* {"total", "disagreements", "seconds", "cases": [...]} */
	bool all;  /* text: every case, not only the grids, the X15.5 and edge
		      cases and any disagreeing one */
	bool verbose;	/* text: the grids and the X15.5 and edge cases; without
			   it (and --all) the grids, any disagreeing case and
			   a one-line summary */
	FILE *progress; /* progress as the cases come back (NULL: none) */
	FILE *out;
};

/* mx_run(), then the table as text or JSON to o->out. Returns 0 when model
 * and handshakes agree on every case, 1 when a case disagrees, 2 when the
 * run failed (err). */
int mx_show(const struct mx_opts *o, char *err);

/* Short label of a side's certificate, e.g. "server-only/so" */
void mx_cert_label(const struct mx_side *s, char *buf, size_t len);

#endif
