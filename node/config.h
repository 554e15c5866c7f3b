/* config.h: ekunode configuration from a file and flags, fully validated. */
#ifndef EKUNODE_CONFIG_H
#define EKUNODE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ekulab/core/addr.h"
#include "ekulab/x509/policy.h"
#include "zone/zone.h"

#define CONFIG_MAX_PEERS 32
#define CONFIG_NAME_MAX	 64
#define CONFIG_LINE_MAX	 4096 /* bytes of a --config line, newline excluded */

struct config_peer {
	char name[CONFIG_NAME_MAX]; /* identity expected in its certificate */
	char addr_text[96];	    /* HOST:PORT, without the options */
	struct addr addr;
	/* The directions of the pair (`,dial=no`, `,accept=no`): dial: this
	 * node dials the peer; accept: the peer dials this node. Both true
	 * unless told otherwise; never both false. */
	bool dial;
	bool accept;
};

/* When is a peer linked (--link)? Every direction the peer options make
 * works (both, the default), or at least one (either). */
enum config_link { CONFIG_LINK_BOTH = 0, CONFIG_LINK_EITHER };

/* All strings are owned by the struct (fixed buffers or ekl_strdup'd
 * pointers freed by config_close). */
struct config {
	char name[CONFIG_NAME_MAX];
	char cluster[CONFIG_NAME_MAX];
	char listen_text[96];
	struct addr listen;
	struct config_peer peers[CONFIG_MAX_PEERS];
	int n_peers;
	char *cert;	   /* owned */
	char *key;	   /* owned */
	char *client_cert; /* owned, NULL when none */
	char *client_key;  /* owned, NULL when none */
	char *ca;	   /* owned */
	char version[32];  /* as given, e.g. "X15.3.2" */
	enum pol_vclass vclass;
	char role; /* 'c' or 'e' */
	enum pol_mode verify;
	bool client_eku_check;
	char *data;  /* owned */
	char *admin; /* owned: admin socket path */
	/* The network admin channel (--admin-listen; len 0: none) and its
	 * TLS files, all given or none. */
	char admin_listen_text[96];
	struct addr admin_listen;
	char *admin_cert; /* owned */
	char *admin_key;  /* owned */
	char *admin_ca;	  /* owned */
	bool at_set;
	int64_t at;
	int heartbeat_ms; /* interval between heartbeats */
	int dead_ms;	  /* no frame for this long: the link is dead */
	int backoff_max_ms;
	char primary[CONFIG_NAME_MAX]; /* --primary: seeds epoch 1 */
	int64_t log_keep;	       /* change-log entries kept */
	bool skew_strict;	       /* --version-skew strict */
	int ack_timeout_ms;	       /* default wait for --ack all */
	enum config_link link;	       /* --link */
	/* Zones (docs/node.md, "Zones"). kind: an Expressway (the default)
	 * or an external peer (--kind cucm ...: no ClusterDB peers; its
	 * verify and --checks-client-eku are its own rule). */
	enum pol_kind kind;
	bool checks_client_eku; /* an external acceptor; default on */
	struct zone_listen_cfg zone_listen[ZONE_MAX_LISTEN];
	int n_zone_listen;
	struct zone_peer_cfg zone_peers[ZONE_MAX_PEERS];
	int n_zone_peers;
	struct zone_accept_cfg zone_accepts[ZONE_MAX_ACCEPTS];
	int n_zone_accepts;
	int zone_interval_ms; /* probe interval */
	/* (the limits in config.c's messages: 8, 32, 64) */
	bool debug;
	bool log_level_set; /* --log-level given (--debug is level debug) */
	int log_level;	    /* enum ekl_log_level */
};

/* Parse argv (flags, and --config FILE whose `key = value` lines use the
 * flag names; flags on the command line win, `peer` lines add up). Checks
 * everything that can be checked without opening sockets: required flags,
 * version string, modes, duplicate peers, address syntax, files that must
 * exist. On error returns a negative code with err naming the flag or file
 * and line. Call config_close in every case. */
int config_parse(struct config *c, int argc, char **argv, char *err);
void config_close(struct config *c);
void config_usage(FILE *f);

/* Index of the peer called name, or -1. */
int config_peer_index(const struct config *c, const char *name);

#endif
