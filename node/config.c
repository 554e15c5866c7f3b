/* config.c: ekunode configuration from a file and flags, fully validated. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/certinfo.h"
#include "ekulab/x509/pki.h"

/* Every option, with the key it has in a config file (the long flag name). */
enum {
	OPT_NAME = 'n',
	OPT_CONFIG = 256,
	OPT_CLUSTER,
	OPT_LISTEN,
	OPT_PEER,
	OPT_CERT,
	OPT_KEY,
	OPT_CLIENT_CERT,
	OPT_CLIENT_KEY,
	OPT_CA,
	OPT_VERSION,
	OPT_ROLE,
	OPT_VERIFY,
	OPT_CLIENT_EKU_CHECK,
	OPT_DATA,
	OPT_ADMIN,
	OPT_ADMIN_LISTEN,
	OPT_ADMIN_CERT,
	OPT_ADMIN_KEY,
	OPT_ADMIN_CA,
	OPT_AT,
	OPT_HEARTBEAT_MS,
	OPT_DEAD_MS,
	OPT_BACKOFF_MAX_MS,
	OPT_PRIMARY,
	OPT_LOG_KEEP,
	OPT_VERSION_SKEW,
	OPT_ACK_TIMEOUT_MS,
	OPT_LINK,
	OPT_LOG_LEVEL,
	OPT_KIND,
	OPT_CHECKS_CLIENT_EKU,
	OPT_ZONE_LISTEN,
	OPT_ZONE_PEER,
	OPT_ZONE_ACCEPT,
	OPT_ZONE_INTERVAL_MS,
	OPT_DEBUG,
	OPT_HELP,
};

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"name", required_argument, NULL, OPT_NAME},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"peer", required_argument, NULL, OPT_PEER},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"client-cert", required_argument, NULL, OPT_CLIENT_CERT},
    {"client-key", required_argument, NULL, OPT_CLIENT_KEY},
    {"ca", required_argument, NULL, OPT_CA},
    {"version", required_argument, NULL, OPT_VERSION},
    {"role", required_argument, NULL, OPT_ROLE},
    {"verify", required_argument, NULL, OPT_VERIFY},
    {"client-eku-check", required_argument, NULL, OPT_CLIENT_EKU_CHECK},
    {"data", required_argument, NULL, OPT_DATA},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN},
    {"admin-cert", required_argument, NULL, OPT_ADMIN_CERT},
    {"admin-key", required_argument, NULL, OPT_ADMIN_KEY},
    {"admin-ca", required_argument, NULL, OPT_ADMIN_CA},
    {"at", required_argument, NULL, OPT_AT},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS},
    {"dead-ms", required_argument, NULL, OPT_DEAD_MS},
    {"backoff-max-ms", required_argument, NULL, OPT_BACKOFF_MAX_MS},
    {"primary", required_argument, NULL, OPT_PRIMARY},
    {"log-keep", required_argument, NULL, OPT_LOG_KEEP},
    {"version-skew", required_argument, NULL, OPT_VERSION_SKEW},
    {"ack-timeout-ms", required_argument, NULL, OPT_ACK_TIMEOUT_MS},
    {"link", required_argument, NULL, OPT_LINK},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"kind", required_argument, NULL, OPT_KIND},
    {"checks-client-eku", required_argument, NULL, OPT_CHECKS_CLIENT_EKU},
    {"zone-listen", required_argument, NULL, OPT_ZONE_LISTEN},
    {"zone-peer", required_argument, NULL, OPT_ZONE_PEER},
    {"zone-accept", required_argument, NULL, OPT_ZONE_ACCEPT},
    {"zone-interval-ms", required_argument, NULL, OPT_ZONE_INTERVAL_MS},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void config_usage(FILE *f)
{
	fputs("usage: ekunode --name N --cluster C --listen HOST:PORT\n"
	      "               --peer NAME=HOST:PORT[,dial=no][,accept=no] "
	      "[--peer ...]\n"
	      "               --cert F --key F --ca F --version V --role c|e\n"
	      "               --verify enforce|permissive --data DIR --admin "
	      "PATH [options]\n"
	      "       ekunode --version | --help | -h\n"
	      "\n"
	      "A cluster peer: replicates a configuration database over mutual "
	      "TLS with\n"
	      "the EKU behaviour of the Expressway version it plays.\n"
	      "\n"
	      "required:\n"
	      "  --name N              this node's name (letters, digits, . _ "
	      "-)\n"
	      "  --cluster C           the cluster name; peers of another "
	      "cluster are refused\n"
	      "  --listen HOST:PORT    where peers connect (a socket handed "
	      "over with\n"
	      "                        LISTEN_FDS is used when it matches)\n"
	      "  --peer NAME=HOST:PORT[,dial=no][,accept=no]\n"
	      "                        a peer, repeated per peer; dial=no: "
	      "only the peer\n"
	      "                        dials; accept=no: only this node "
	      "dials (default: both)\n"
	      "  --cert F, --key F     this node's certificate (leaf then "
	      "chain) and key (PEM)\n"
	      "  --ca F                the trust bundle for peers' "
	      "certificates (PEM)\n"
	      "  --version V           the Expressway version played: X14.*, "
	      "X15.0-X15.3.*\n"
	      "                        (pre-X15.4), X15.4*, X15.5*; alone, "
	      "prints ekunode's own\n"
	      "  --role c|e            Expressway-C or Expressway-E\n"
	      "  --verify MODE         enforce (refuse what the policy "
	      "refuses) or permissive\n"
	      "                        (log it and accept)\n"
	      "  --data DIR            the database directory (SQLite; locked "
	      "while running)\n"
	      "  --admin PATH          the admin socket (0600)\n"
	      "\n"
	      "network admin channel (docs/node.md, \"Network admin "
	      "channel\"):\n"
	      "  --admin-listen HOST:PORT\n"
	      "                        also serve the admin protocol over "
	      "TLS 1.3 here, to\n"
	      "                        clients with a certificate of the "
	      "admin CA only\n"
	      "  --admin-cert F, --admin-key F\n"
	      "                        this node's admin certificate "
	      "(serverAuth, issued\n"
	      "                        by the admin CA) and key (0600)\n"
	      "  --admin-ca F          the admin CA: the one issuer admin "
	      "clients are\n"
	      "                        accepted from (pki/ca-admin.crt)\n"
	      "\n"
	      "options:\n"
	      "  --primary NAME        the primary of epoch 1, the same on "
	      "every node\n"
	      "                        (default: none, nothing replicates)\n"
	      "  --link both|either    a peer is linked when every direction "
	      "works (both)\n"
	      "                        or one does (either) (default: both)\n"
	      "  --client-cert F, --client-key F\n"
	      "                        X15.5: the certificate presented when "
	      "this node dials\n"
	      "                        (default: --cert)\n"
	      "  --client-eku-check on|off\n"
	      "                        X15.5's switch for services other than "
	      "ClusterDB\n"
	      "                        (default: on)\n"
	      "  --at TIME             judge certificates at TIME: YYYY-MM-DD, "
	      "\n"
	      "                        YYYY-MM-DDTHH:MM:SSZ or @EPOCH "
	      "(default: now)\n"
	      "  --heartbeat-ms N      heartbeat interval on a link (default: "
	      "1000)\n"
	      "  --dead-ms N           a link silent this long is closed as "
	      "timeout\n"
	      "                        (default: 3500)\n"
	      "  --backoff-max-ms N    longest wait between dial attempts "
	      "(default: 2000)\n"
	      "  --log-keep N          change-log entries kept for catch-up; "
	      "older peers get\n"
	      "                        a snapshot (default: 100000)\n"
	      "  --ack-timeout-ms N    how long an ack=all write waits for the "
	      "peers\n"
	      "                        (default: 5000)\n"
	      "  --version-skew allow|strict\n"
	      "                        strict: no replication with peers of "
	      "another version\n"
	      "                        class (default: allow)\n"
	      "\n"
	      "zones (docs/node.md, \"Zones\"):\n"
	      "  --kind KIND           expressway (default), or play an "
	      "external peer: cucm,\n"
	      "                        unity, cube, cms, b2b-peer, "
	      "federation-peer, cloud\n"
	      "                        (no ClusterDB peers; --role not "
	      "needed)\n"
	      "  --checks-client-eku on|off\n"
	      "                        an external acceptor checks the "
	      "caller's clientAuth\n"
	      "                        (default: on)\n"
	      "  --zone-listen SERVICE=HOST:PORT\n"
	      "                        accept SERVICE (traversal, neighbour, "
	      "b2b, federation,\n"
	      "                        cloud) there; repeat per service\n"
	      "  --zone-accept SERVICE=NAME\n"
	      "                        a name accepted from callers of "
	      "SERVICE; repeat\n"
	      "  --zone-peer NAME=SERVICE,HOST:PORT[,mra]\n"
	      "                        open SERVICE to NAME; mra (traversal): "
	      "check the SIP\n"
	      "                        SERVICE certificate NAME sends; repeat "
	      "per peer\n"
	      "  --zone-interval-ms N  a zone connection is probed afresh "
	      "this often\n"
	      "                        (default: 1000)\n"
	      "  --log-level LEVEL     debug, info, warn or error (default: "
	      "info)\n"
	      "  --debug               the same as --log-level debug\n"
	      "  --config FILE         key = value lines with the flag names "
	      "as keys (peer and\n"
	      "                        the zone- keys may repeat); the command "
	      "line wins "
	      "(default: none)\n"
	      "  --help, -h            this help\n"
	      "\n"
	      "exit status:\n"
	      "  0  stopped on SIGTERM or SIGINT (or --help, --version)\n"
	      "  1  could not start (a file, the port, the data directory)\n"
	      "  2  a bad flag or config file\n"
	      "\n"
	      "See docs/node.md.\n",
	      f);
}

/* Where a value came from, for error messages. */
struct origin {
	const char *file; /* NULL: the command line */
	int line;
};

static int bad(char *err, const struct origin *o, const char *key,
	       const char *fmt, const char *val)
{
	char what[EKL_ERRLEN];

	snprintf(what, sizeof(what), fmt, val);
	if (o->file != NULL)
		return ekl_errf(err, EKL_ECONFIG, "%s:%d: %s: %s", o->file,
				o->line, key, what);
	return ekl_errf(err, EKL_ECONFIG, "--%s: %s", key, what);
}

static int set_str(char **dst, const char *val, char *err)
{
	char *d = ekl_strdup(val);

	if (d == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	ekl_free(*dst);
	*dst = d;
	return 0;
}

static int set_buf(char *dst, size_t n, const char *val, char *err,
		   const struct origin *o, const char *key)
{
	if (val[0] == '\0' || strlen(val) >= n)
		return bad(err, o, key, "'%s': must be 1 to 63 characters",
			   val);
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

static int parse_int(const char *val, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (*val == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* A peer's options after its address: `dial=yes|no`, `accept=yes|no`,
 * comma-separated (docs/node.md). */
static int peer_options(struct config_peer *p, const char *opts,
			const char *val, char *err, const struct origin *o)
{
	char buf[128], *save = NULL, *tok;

	if (strlen(opts) >= sizeof(buf))
		return bad(err, o, "peer", "'%s': options too long", val);
	snprintf(buf, sizeof(buf), "%s", opts);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *k = tok, *v = strchr(tok, '=');
		bool *flag;

		while (*k == ' ' || *k == '\t')
			k++;
		if (v == NULL)
			return bad(err, o, "peer",
				   "'%s': a peer option is KEY=VALUE "
				   "(dial=no, accept=no)",
				   val);
		*v++ = '\0';
		if (strcmp(k, "dial") == 0)
			flag = &p->dial;
		else if (strcmp(k, "accept") == 0)
			flag = &p->accept;
		else
			return bad(err, o, "peer",
				   "'%s': unknown peer option; use dial=yes|no "
				   "or accept=yes|no",
				   val);
		if (strcmp(v, "yes") == 0)
			*flag = true;
		else if (strcmp(v, "no") == 0)
			*flag = false;
		else
			return bad(err, o, "peer",
				   "'%s': dial and accept are yes or no", val);
	}
	if (!p->dial && !p->accept)
		return bad(err, o, "peer",
			   "'%s': dial=no and accept=no leave no connection "
			   "with this peer; drop one of them",
			   val);
	return 0;
}

static int add_peer(struct config *c, const char *val, char *err,
		    const struct origin *o)
{
	const char *eq = strchr(val, '=');
	struct config_peer *p;
	char aerr[EKL_ERRLEN];
	const char *opts;
	size_t nl, al;
	int i, rv;

	if (eq == NULL || eq == val)
		return bad(err, o, "peer", "'%s': expected NAME=HOST:PORT",
			   val);
	if (c->n_peers == CONFIG_MAX_PEERS)
		return bad(err, o, "peer", "'%s': too many peers (max 32)",
			   val);
	/* Blanks around the '=' are allowed ("peer = n2 = 10.0.0.2:7001" in
	 * a config file) and are not part of the name or address. */
	nl = (size_t)(eq - val);
	while (nl > 0 && (val[nl - 1] == ' ' || val[nl - 1] == '\t'))
		nl--;
	if (nl == 0)
		return bad(err, o, "peer", "'%s': expected NAME=HOST:PORT",
			   val);
	if (nl >= CONFIG_NAME_MAX)
		return bad(err, o, "peer", "'%s': name too long", val);
	p = &c->peers[c->n_peers];
	memset(p, 0, sizeof(*p));
	memcpy(p->name, val, nl);
	p->dial = p->accept = true;
	eq++;
	while (*eq == ' ' || *eq == '\t')
		eq++;
	opts = strchr(eq, ',');
	al = opts != NULL ? (size_t)(opts - eq) : strlen(eq);
	while (al > 0 && (eq[al - 1] == ' ' || eq[al - 1] == '\t'))
		al--;
	if (al >= sizeof(p->addr_text))
		return bad(err, o, "peer", "'%s': address too long", val);
	memcpy(p->addr_text, eq, al);
	p->addr_text[al] = '\0';
	if (addr_parse(p->addr_text, &p->addr, aerr) != 0)
		return bad(err, o, "peer", "%s", aerr);
	if (opts != NULL && (rv = peer_options(p, opts + 1, val, err, o)) != 0)
		return rv;
	for (i = 0; i < c->n_peers; i++) {
		if (strcasecmp(c->peers[i].name, p->name) == 0)
			return bad(err, o, "peer",
				   "peer '%s' is listed twice; list each "
				   "peer once",
				   p->name);
		if (c->peers[i].addr.len == p->addr.len &&
		    memcmp(&c->peers[i].addr.ss, &p->addr.ss, p->addr.len) == 0)
			return bad(err, o, "peer",
				   "address %s is given for two peers",
				   p->addr_text);
	}
	c->n_peers++;
	return 0;
}

/* Keys that add up: given once per item. */
static bool repeatable(int opt)
{
	return opt == OPT_PEER || opt == OPT_ZONE_LISTEN ||
	       opt == OPT_ZONE_PEER || opt == OPT_ZONE_ACCEPT;
}

static int parse_service(const char *s, size_t n, enum pol_service *out)
{
	char buf[32];

	if (n >= sizeof(buf))
		return EKL_EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (pol_service_parse(buf, out) != 0 || *out == POL_SVC_CLUSTERDB ||
	    *out == POL_SVC_MRA)
		return EKL_EINVAL;
	return 0;
}

#define ZONE_SERVICES "traversal, neighbour, b2b, federation or cloud"

/* --zone-listen SERVICE=HOST:PORT */
static int add_zone_listen(struct config *c, const char *val, char *err,
			   const struct origin *o)
{
	const char *eq = strchr(val, '=');
	struct zone_listen_cfg *z;
	char aerr[EKL_ERRLEN];
	int i;

	if (c->n_zone_listen == ZONE_MAX_LISTEN)
		return bad(err, o, "zone-listen", "'%s': too many (max 8)",
			   val);
	z = &c->zone_listen[c->n_zone_listen];
	if (eq == NULL ||
	    parse_service(val, (size_t)(eq - val), &z->service) != 0)
		return bad(err, o, "zone-listen",
			   "'%s': expected SERVICE=HOST:PORT, SERVICE one "
			   "of " ZONE_SERVICES,
			   val);
	if (strlen(eq + 1) >= sizeof(z->addr_text))
		return bad(err, o, "zone-listen", "'%s': address too long",
			   val);
	snprintf(z->addr_text, sizeof(z->addr_text), "%s", eq + 1);
	if (addr_parse(z->addr_text, &z->addr, aerr) != 0)
		return bad(err, o, "zone-listen", "%s", aerr);
	for (i = 0; i < c->n_zone_listen; i++)
		if (c->zone_listen[i].service == z->service)
			return bad(err, o, "zone-listen",
				   "'%s': the service is listened for twice; "
				   "give one address per service",
				   val);
	c->n_zone_listen++;
	return 0;
}

/* --zone-peer NAME=SERVICE,HOST:PORT[,mra] */
static int add_zone_peer(struct config *c, const char *val, char *err,
			 const struct origin *o)
{
	const char *eq = strchr(val, '=');
	const char *comma = eq != NULL ? strchr(eq + 1, ',') : NULL;
	struct zone_peer_cfg *z;
	char rest[128], aerr[EKL_ERRLEN], *opt;
	size_t nl;

	if (c->n_zone_peers == ZONE_MAX_PEERS)
		return bad(err, o, "zone-peer", "'%s': too many (max 32)", val);
	z = &c->zone_peers[c->n_zone_peers];
	memset(z, 0, sizeof(*z));
	if (eq == NULL || comma == NULL ||
	    parse_service(eq + 1, (size_t)(comma - eq - 1), &z->service) != 0)
		return bad(err, o, "zone-peer",
			   "'%s': expected NAME=SERVICE,HOST:PORT[,mra], "
			   "SERVICE one of " ZONE_SERVICES,
			   val);
	nl = (size_t)(eq - val);
	if (nl == 0 || nl >= sizeof(z->name))
		return bad(err, o, "zone-peer", "'%s': bad peer name", val);
	memcpy(z->name, val, nl);
	z->name[nl] = '\0';
	if (strlen(comma + 1) >= sizeof(rest))
		return bad(err, o, "zone-peer", "'%s': too long", val);
	snprintf(rest, sizeof(rest), "%s", comma + 1);
	opt = strchr(rest, ',');
	if (opt != NULL) {
		*opt++ = '\0';
		if (strcmp(opt, "mra") != 0 || z->service != POL_SVC_TRAVERSAL)
			return bad(err, o, "zone-peer",
				   "'%s': the only option is mra, on a "
				   "traversal peer",
				   val);
		z->mra = true;
	}
	if (strlen(rest) >= sizeof(z->addr_text))
		return bad(err, o, "zone-peer", "'%s': address too long", val);
	memcpy(z->addr_text, rest, strlen(rest) + 1);
	if (addr_parse(z->addr_text, &z->addr, aerr) != 0)
		return bad(err, o, "zone-peer", "%s", aerr);
	c->n_zone_peers++;
	return 0;
}

/* --zone-accept SERVICE=NAME */
static int add_zone_accept(struct config *c, const char *val, char *err,
			   const struct origin *o)
{
	const char *eq = strchr(val, '=');
	struct zone_accept_cfg *z;

	if (c->n_zone_accepts == ZONE_MAX_ACCEPTS)
		return bad(err, o, "zone-accept", "'%s': too many (max 64)",
			   val);
	z = &c->zone_accepts[c->n_zone_accepts];
	if (eq == NULL ||
	    parse_service(val, (size_t)(eq - val), &z->service) != 0 ||
	    eq[1] == '\0' || strlen(eq + 1) >= sizeof(z->name))
		return bad(err, o, "zone-accept",
			   "'%s': expected SERVICE=NAME, SERVICE one "
			   "of " ZONE_SERVICES,
			   val);
	snprintf(z->name, sizeof(z->name), "%s", eq + 1);
	c->n_zone_accepts++;
	return 0;
}

/* Apply one option. Flags seen on the command line are remembered in
 * `from_cli` so that config-file values do not override them. */
static int apply(struct config *c, int opt, const char *val, char *err,
		 const struct origin *o)
{
	const char *key = "?";
	int i;

	for (i = 0; options[i].name != NULL; i++)
		if (options[i].val == opt)
			key = options[i].name;
	switch (opt) {
	case OPT_NAME:
		return set_buf(c->name, sizeof(c->name), val, err, o, key);
	case OPT_CLUSTER:
		return set_buf(c->cluster, sizeof(c->cluster), val, err, o,
			       key);
	case OPT_LISTEN: {
		char aerr[EKL_ERRLEN];

		snprintf(c->listen_text, sizeof(c->listen_text), "%s", val);
		if (addr_parse(val, &c->listen, aerr) != 0)
			return bad(err, o, key, "%s", aerr);
		return 0;
	}
	case OPT_PEER: return add_peer(c, val, err, o);
	case OPT_CERT: return set_str(&c->cert, val, err);
	case OPT_KEY: return set_str(&c->key, val, err);
	case OPT_CLIENT_CERT: return set_str(&c->client_cert, val, err);
	case OPT_CLIENT_KEY: return set_str(&c->client_key, val, err);
	case OPT_CA: return set_str(&c->ca, val, err);
	case OPT_VERSION:
		if (pol_version_parse(val, &c->vclass) != 0)
			return bad(err, o, key,
				   "unknown version '%s'; use X14.x.y, "
				   "X15.0-X15.3.x, X15.4 or X15.5",
				   val);
		snprintf(c->version, sizeof(c->version), "%s", val);
		return 0;
	case OPT_ROLE:
		if (strcmp(val, "c") != 0 && strcmp(val, "e") != 0)
			return bad(err, o, key, "'%s': must be c or e", val);
		c->role = val[0];
		return 0;
	case OPT_VERIFY:
		if (pol_mode_parse(val, &c->verify) != 0)
			return bad(err, o, key,
				   "'%s': must be enforce or permissive", val);
		return 0;
	case OPT_CLIENT_EKU_CHECK:
		if (strcmp(val, "on") == 0)
			c->client_eku_check = true;
		else if (strcmp(val, "off") == 0)
			c->client_eku_check = false;
		else
			return bad(err, o, key, "'%s': must be on or off", val);
		return 0;
	case OPT_KIND:
		if (pol_kind_parse(val, &c->kind) != 0)
			return bad(err, o, key,
				   "'%s': use expressway, cucm, unity, cube, "
				   "cms, b2b-peer, federation-peer or cloud",
				   val);
		return 0;
	case OPT_CHECKS_CLIENT_EKU:
		if (strcmp(val, "on") == 0)
			c->checks_client_eku = true;
		else if (strcmp(val, "off") == 0)
			c->checks_client_eku = false;
		else
			return bad(err, o, key, "'%s': must be on or off", val);
		return 0;
	case OPT_ZONE_LISTEN: return add_zone_listen(c, val, err, o);
	case OPT_ZONE_PEER: return add_zone_peer(c, val, err, o);
	case OPT_ZONE_ACCEPT: return add_zone_accept(c, val, err, o);
	case OPT_ZONE_INTERVAL_MS:
		if (parse_int(val, 50, 600000, &c->zone_interval_ms) != 0)
			return bad(err, o, key, "'%s': must be 50-600000", val);
		return 0;
	case OPT_DATA: return set_str(&c->data, val, err);
	case OPT_ADMIN: return set_str(&c->admin, val, err);
	case OPT_ADMIN_LISTEN: {
		char aerr[EKL_ERRLEN];

		snprintf(c->admin_listen_text, sizeof(c->admin_listen_text),
			 "%s", val);
		if (addr_parse(val, &c->admin_listen, aerr) != 0)
			return bad(err, o, key, "%s", aerr);
		return 0;
	}
	case OPT_ADMIN_CERT: return set_str(&c->admin_cert, val, err);
	case OPT_ADMIN_KEY: return set_str(&c->admin_key, val, err);
	case OPT_ADMIN_CA: return set_str(&c->admin_ca, val, err);
	case OPT_AT: {
		int64_t t;

		if (pki_parse_time(val, &t) != 0)
			return bad(err, o, key,
				   "'%s': use YYYY-MM-DD, "
				   "YYYY-MM-DDTHH:MM:SSZ or @EPOCH",
				   val);
		c->at_set = true;
		c->at = t;
		return 0;
	}
	case OPT_HEARTBEAT_MS:
		if (parse_int(val, 10, 600000, &c->heartbeat_ms) != 0)
			return bad(err, o, key, "'%s': must be 10-600000", val);
		return 0;
	case OPT_DEAD_MS:
		if (parse_int(val, 30, 3600000, &c->dead_ms) != 0)
			return bad(err, o, key, "'%s': must be 30-3600000",
				   val);
		return 0;
	case OPT_BACKOFF_MAX_MS:
		if (parse_int(val, 10, 600000, &c->backoff_max_ms) != 0)
			return bad(err, o, key, "'%s': must be 10-600000", val);
		return 0;
	case OPT_PRIMARY:
		return set_buf(c->primary, sizeof(c->primary), val, err, o,
			       key);
	case OPT_LOG_KEEP: {
		int v;

		if (parse_int(val, 1, 100000000, &v) != 0)
			return bad(err, o, key, "'%s': must be 1-100000000",
				   val);
		c->log_keep = v;
		return 0;
	}
	case OPT_VERSION_SKEW:
		if (strcmp(val, "allow") == 0)
			c->skew_strict = false;
		else if (strcmp(val, "strict") == 0)
			c->skew_strict = true;
		else
			return bad(err, o, key, "'%s': must be allow or strict",
				   val);
		return 0;
	case OPT_ACK_TIMEOUT_MS:
		if (parse_int(val, 1, 3600000, &c->ack_timeout_ms) != 0)
			return bad(err, o, key, "'%s': must be 1-3600000", val);
		return 0;
	case OPT_LINK:
		if (strcmp(val, "both") == 0)
			c->link = CONFIG_LINK_BOTH;
		else if (strcmp(val, "either") == 0)
			c->link = CONFIG_LINK_EITHER;
		else
			return bad(err, o, key,
				   "'%s': must be both (every direction that "
				   "exists works) or either (one does)",
				   val);
		return 0;
	case OPT_LOG_LEVEL: {
		static const char *const levels[] = {"debug", "info", "warn",
						     "error"};
		int k;

		for (k = 0; k < 4; k++)
			if (strcmp(val, levels[k]) == 0)
				break;
		if (k == 4)
			return bad(err, o, key,
				   "'%s': must be debug, info, warn or error",
				   val);
		c->log_level = k; /* enum ekl_log_level order */
		c->log_level_set = true;
		return 0;
	}
	case OPT_DEBUG: c->debug = true; return 0;
	}
	return ekl_errf(err, EKL_EINVAL, "internal: unknown option %d", opt);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Open a config file for reading: a regular file, never anything that
 * could block or read as empty (a directory, a FIFO, a device). */
static int open_file(const char *path, FILE **out, char *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return ekl_errf(err, EKL_ECONFIG, "--config %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ekl_errf(err, EKL_ECONFIG,
				"--config %s is %s, not a file; give the path "
				"of a file of `key = value` lines",
				path,
				S_ISDIR(st.st_mode) ? "a directory"
						    : "a special file");
	}
	*out = fdopen(fd, "r");
	if (*out == NULL) {
		int e = errno;

		close(fd);
		return ekl_errf(err, EKL_ECONFIG, "--config %s: %s", path,
				strerror(e));
	}
	return 0;
}

static int load_file(struct config *c, const char *path, const bool *cli,
		     char *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct origin o = {path, 0};
	int seen[OPT_HELP + 1]; /* the line each key was first given on */
	FILE *f = NULL;
	int rv;

	rv = open_file(path, &f, err);
	if (rv != 0)
		return rv;
	memset(seen, 0, sizeof(seen));
	/* Whole lines, so that nothing is read cut short: a NUL byte or a
	 * line over the limit is refused, never taken as a shorter value. */
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *k, *v, *eq;
		int i, opt = 0;

		o.line++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			rv = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: a NUL byte; a config file is "
				      "text of `key = value` lines",
				      path, o.line);
			break;
		}
		if (n > CONFIG_LINE_MAX + 1 ||
		    (n == CONFIG_LINE_MAX + 1 && line[n - 1] != '\n')) {
			rv = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: a line over %d bytes; is it the "
				      "right file?",
				      path, o.line, CONFIG_LINE_MAX);
			break;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			rv = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: expected `key = value`", path,
				      o.line);
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		for (i = 0; options[i].name != NULL; i++)
			if (strcmp(options[i].name, k) == 0)
				opt = options[i].val;
		if (opt == 0 || opt == OPT_CONFIG || opt == OPT_HELP) {
			rv = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: unknown key '%s'", path, o.line,
				      k);
			break;
		}
		/* Which of two values would win is a guess: refuse. Only
		 * `peer` adds up. */
		if (!repeatable(opt) && seen[opt] != 0) {
			rv = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is given twice (first on "
				      "line %d); give it once",
				      path, o.line, k, seen[opt]);
			break;
		}
		seen[opt] = o.line;
		if (opt == OPT_DEBUG) {
			if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
				rv = ekl_errf(err, EKL_ECONFIG,
					      "%s:%d: debug: use on or off",
					      path, o.line);
				break;
			}
			if (!cli[opt] && strcmp(v, "on") == 0)
				c->debug = true;
			continue;
		}
		if (!repeatable(opt) && cli[opt])
			continue; /* the command line wins */
		rv = apply(c, opt, v, err, &o);
		if (rv != 0)
			break;
	}
	if (n < 0 && ferror(f))
		rv = ekl_errf(err, EKL_ECONFIG, "--config %s: %s", path,
			      strerror(errno));
	free(line); /* getline allocates with malloc */
	fclose(f);
	return rv;
}

static int need_file(const char *flag, const char *path, char *err)
{
	if (access(path, R_OK) != 0)
		return ekl_errf(err, EKL_ECONFIG, "--%s %s: %s", flag, path,
				strerror(errno));
	return 0;
}

/* Would dialling peer reach our own listener? The same address, or the
 * same port on a loopback or wildcard address when we listen on the
 * wildcard (0.0.0.0 or ::). */
static bool is_own_address(const struct addr *listen, const struct addr *peer)
{
	const struct sockaddr *l = (const struct sockaddr *)&listen->ss;
	const struct sockaddr *p = (const struct sockaddr *)&peer->ss;

	if (listen->len == peer->len &&
	    memcmp(&listen->ss, &peer->ss, listen->len) == 0)
		return true;
	if (l->sa_family == AF_INET && p->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)l,
					 *b = (const void *)p;
		uint32_t ip = ntohl(b->sin_addr.s_addr);

		return a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == htonl(INADDR_ANY) &&
		       (ip == INADDR_ANY || (ip >> 24) == 127);
	}
	if (l->sa_family == AF_INET6 && p->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)l,
					  *b = (const void *)p;

		return a->sin6_port == b->sin6_port &&
		       IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr) &&
		       (IN6_IS_ADDR_UNSPECIFIED(&b->sin6_addr) ||
			IN6_IS_ADDR_LOOPBACK(&b->sin6_addr));
	}
	return false;
}

/* Does the certificate in `path` name this node? Every peer that checks
 * identities (enforce) refuses it otherwise, so refuse it first. */
static int cert_names_node(const char *flag, const char *path, const char *name,
			   char *err)
{
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL;
	char claimed[EKL_ERRLEN];
	int rv;

	rv = certinfo_load_chain(path, &leaf, &extra, claimed);
	if (rv != 0)
		return ekl_errf(err, EKL_ECONFIG, "--%s: %s", flag, claimed);
	if (!certinfo_names(leaf, name)) {
		certinfo_identity(leaf, claimed, sizeof(claimed));
		rv = ekl_errf(err, EKL_ECONFIG,
			      "--%s %s names '%.100s', not this node (--name "
			      "%s): every peer would refuse it "
			      "(identity-mismatch); give this node's own "
			      "certificate, or issue one for %s",
			      flag, path, claimed[0] ? claimed : "(nobody)",
			      name, name);
	}
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	return rv;
}

static int check(struct config *c, char *err)
{
	static const struct {
		int opt;
		const char *name;
	} required[] = {
	    {OPT_NAME, "name"},	      {OPT_CLUSTER, "cluster"},
	    {OPT_LISTEN, "listen"},   {OPT_CERT, "cert"},
	    {OPT_KEY, "key"},	      {OPT_CA, "ca"},
	    {OPT_VERSION, "version"}, {OPT_ROLE, "role"},
	    {OPT_VERIFY, "verify"},   {OPT_DATA, "data"},
	    {OPT_ADMIN, "admin"},
	};
	bool have[sizeof(required) / sizeof(required[0])];
	size_t i;
	int rv;

	/* An external has no Expressway role or version (policy ignores
	 * both for it). */
	if (c->role == 0 && pol_kind_external(c->kind))
		c->role = 'c';
	if (c->version[0] == '\0' && pol_kind_external(c->kind)) {
		snprintf(c->version, sizeof(c->version), "-");
		c->vclass = POL_V_X155;
	}
	have[0] = c->name[0] != '\0';
	have[1] = c->cluster[0] != '\0';
	have[2] = c->listen.len != 0;
	have[3] = c->cert != NULL;
	have[4] = c->key != NULL;
	have[5] = c->ca != NULL;
	have[6] = c->version[0] != '\0';
	have[7] = c->role != 0;
	have[8] = c->verify != (enum pol_mode) - 1;
	have[9] = c->data != NULL;
	have[10] = c->admin != NULL;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!have[i])
			return ekl_errf(err, EKL_ECONFIG,
					"--%s is required; see ekunode --help",
					required[i].name);
	if (c->admin_listen.len != 0 &&
	    (c->admin_cert == NULL || c->admin_key == NULL ||
	     c->admin_ca == NULL))
		return ekl_errf(err, EKL_ECONFIG,
				"--admin-listen needs --admin-cert, "
				"--admin-key and --admin-ca (the admin "
				"channel never runs without TLS and client "
				"certificates)");
	if (c->admin_listen.len == 0 &&
	    (c->admin_cert != NULL || c->admin_key != NULL ||
	     c->admin_ca != NULL))
		return ekl_errf(err, EKL_ECONFIG,
				"--admin-cert, --admin-key and --admin-ca "
				"are for --admin-listen, which is not given");
	if (c->admin_listen.len != 0 &&
	    ((rv = need_file("admin-cert", c->admin_cert, err)) != 0 ||
	     (rv = need_file("admin-key", c->admin_key, err)) != 0 ||
	     (rv = need_file("admin-ca", c->admin_ca, err)) != 0))
		return rv;
	if ((c->client_cert == NULL) != (c->client_key == NULL))
		return ekl_errf(err, EKL_ECONFIG,
				"--client-cert and --client-key go together; "
				"give both or neither");
	if (c->client_cert != NULL && c->vclass != POL_V_X155 &&
	    !pol_kind_external(c->kind))
		return ekl_errf(err, EKL_ECONFIG,
				"--client-cert needs --version X15.5 (separate "
				"client certificates exist from X15.5 on); "
				"version is %s",
				c->version);
	if (pol_kind_external(c->kind) && c->n_peers > 0)
		return ekl_errf(err, EKL_ECONFIG,
				"--kind %s: an external peer has no ClusterDB "
				"peers; drop --peer (zone peers are "
				"--zone-peer)",
				pol_kind_name(c->kind));
	if (config_peer_index(c, c->name) >= 0)
		return ekl_errf(err, EKL_ECONFIG,
				"--peer %s: a node cannot list itself as a "
				"peer",
				c->name);
	if ((rv = need_file("cert", c->cert, err)) != 0 ||
	    (rv = need_file("key", c->key, err)) != 0 ||
	    (rv = need_file("ca", c->ca, err)) != 0)
		return rv;
	if (c->client_cert != NULL &&
	    ((rv = need_file("client-cert", c->client_cert, err)) != 0 ||
	     (rv = need_file("client-key", c->client_key, err)) != 0))
		return rv;
	if ((rv = cert_names_node("cert", c->cert, c->name, err)) != 0 ||
	    (c->client_cert != NULL &&
	     (rv = cert_names_node("client-cert", c->client_cert, c->name,
				   err)) != 0))
		return rv;
	for (i = 0; i < (size_t)c->n_peers; i++)
		if (is_own_address(&c->listen, &c->peers[i].addr))
			return ekl_errf(err, EKL_ECONFIG,
					"--peer %s=%s is this node's own "
					"--listen %s: it would dial itself; "
					"give %s's address",
					c->peers[i].name, c->peers[i].addr_text,
					c->listen_text, c->peers[i].name);
	if (c->primary[0] != '\0' && strcasecmp(c->primary, c->name) != 0 &&
	    config_peer_index(c, c->primary) < 0)
		return ekl_errf(err, EKL_ECONFIG,
				"--primary %s is neither this node nor one of "
				"its peers",
				c->primary);
	if (c->dead_ms <= c->heartbeat_ms)
		return ekl_errf(err, EKL_ECONFIG,
				"--dead-ms (%d) must be larger than "
				"--heartbeat-ms (%d)",
				c->dead_ms, c->heartbeat_ms);
	return 0;
}

int config_parse(struct config *c, int argc, char **argv, char *err)
{
	struct origin cli_origin = {NULL, 0};
	bool cli[OPT_HELP + 1];
	const char *config_file = NULL;
	int opt, rv;

	memset(c, 0, sizeof(*c));
	memset(cli, 0, sizeof(cli));
	c->verify = (enum pol_mode) - 1;
	c->client_eku_check = true;
	c->checks_client_eku = true;
	c->zone_interval_ms = ZONE_INTERVAL_MS;
	c->heartbeat_ms = 1000;
	c->dead_ms = 3500;
	c->backoff_max_ms = 2000;
	c->log_keep = 100000;
	c->ack_timeout_ms = 5000;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:", options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return ekl_errf(err, EKL_ECONFIG,
					"%s: unknown option or missing value; "
					"see ekunode --help",
					argv[optind - 1]);
		if (opt == OPT_HELP)
			return ekl_errf(err, EKL_EINVAL, "help");
		if (opt == OPT_CONFIG) {
			config_file = optarg;
			continue;
		}
		if (!repeatable(opt) && cli[opt]) {
			const char *flag = "?";
			int k;

			/* Not argv[optind - 1]: that is the value when the
			 * flag and its value are separate arguments. */
			for (k = 0; options[k].name != NULL; k++)
				if (options[k].val == opt)
					flag = options[k].name;
			return ekl_errf(err, EKL_ECONFIG,
					"--%s given twice; give it once", flag);
		}
		cli[opt] = true;
		rv = apply(c, opt, optarg, err, &cli_origin);
		if (rv != 0)
			return rv;
	}
	if (optind < argc)
		return ekl_errf(err, EKL_ECONFIG,
				"unexpected argument '%s'; see ekunode --help",
				argv[optind]);
	if (config_file != NULL) {
		rv = load_file(c, config_file, cli, err);
		if (rv != 0)
			return rv;
	}
	return check(c, err);
}

void config_close(struct config *c)
{
	ekl_free(c->cert);
	ekl_free(c->key);
	ekl_free(c->client_cert);
	ekl_free(c->client_key);
	ekl_free(c->ca);
	ekl_free(c->data);
	ekl_free(c->admin);
	ekl_free(c->admin_cert);
	ekl_free(c->admin_key);
	ekl_free(c->admin_ca);
	c->admin_cert = c->admin_key = c->admin_ca = NULL;
	c->cert = c->key = c->client_cert = c->client_key = NULL;
	c->ca = c->data = c->admin = NULL;
}

int config_peer_index(const struct config *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_peers; i++)
		if (strcasecmp(c->peers[i].name, name) == 0)
			return i;
	return -1;
}

_Static_assert(ZONE_MAX_LISTEN == 8 && ZONE_MAX_PEERS == 32 &&
		   ZONE_MAX_ACCEPTS == 64,
	       "the zone limits the messages name");
