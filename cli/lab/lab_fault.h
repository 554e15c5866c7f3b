/* lab_fault.h: faults on a running lab: node faults through the runtime,
 * link faults through the lab proxy. Every fault has a name; `list` shows
 * them and `heal` removes one or all. */
#ifndef EKULAB_CLI_LAB_FAULT_H
#define EKULAB_CLI_LAB_FAULT_H

#include <stdbool.h>
#include <stdio.h>

#include "lab.h"

/* Node faults. The lab remembers kill and pause so heal can undo them. */
int lab_fault_kill(struct lab *l, int node, const char *name, char *err);
int lab_fault_pause(struct lab *l, int node, const char *name, char *err);
int lab_fault_resume(struct lab *l, int node, char *err);
int lab_fault_restart(struct lab *l, int node, char *err);
/* Restart node as another version, keeping its data. */
int lab_fault_upgrade(struct lab *l, int node, const char *version, char *err);
/* Renew the certificate with another profile/CA and restart the node.
 * Unless forced (copied in by hand), the node's own upload rule decides
 * first (pre-X15.4 refuses a certificate without clientAuth, ...). */
int lab_fault_renew(struct lab *l, int node, enum pki_profile p, enum pki_ca ca,
		    bool force, char *err);
/* A new (or first) X15.5 client certificate from the lab PKI, copied in
 * by hand (the caller asked the upload rule), then node restarts with it
 * (a node a kill or pause holds down takes it without running). */
int lab_fault_renew_client(struct lab *l, int node, enum pki_profile p,
			   enum pki_ca ca, char *err);
/* Change the verify mode of one node (node >= 0) or all, restarting them. */
int lab_fault_verify(struct lab *l, enum pol_mode mode, int node, char *err);

/* Link faults on directed connections (from, to) through the proxy.
 * kind: down | blackhole | reset | latency | bandwidth; params: "ms=N
 * jitter=N" or "rate=BYTES" or "". */
int lab_fault_links(struct lab *l, const char *name, const char *kind,
		    const int *from, const int *to, int n, const char *params,
		    char *err);

struct plan_fault;
/* A plan's link fault (a kind plan_fault_is_link says, on link[0] -
 * link[1], both routes) on the lab's proxy with the fault's parameters,
 * direction and toxicity, named f->name: the one translation of a plan
 * fault into the proxy's terms, which plan run and the soak use. */
int lab_fault_plan_link(struct lab *l, const struct plan_fault *f, char *err);

/* A partition by shape (plan_partition_cuts): argv = SHAPE [NODE...]. */
int lab_fault_partition(struct lab *l, const char *name, int argc, char **argv,
			char *err);

/* Remove one fault (node or link) or all ("all"). */
int lab_fault_heal(struct lab *l, const char *name, char *err);
/* Print every fault (node faults from the lab, link faults from the
 * proxy) to out. */
int lab_fault_list(struct lab *l, bool json, FILE *out, char *err);

/* A fresh name: "KIND-N". */
void lab_fault_name(const struct lab *l, const char *kind, char *buf,
		    size_t len);

#endif
