/* fuzz_config.c: ekunode's configuration file (node/config.c, `--config
 * FILE` of `key = value` lines), parsed and checked as at start-up.
 *
 * Input: the file's content, where "$T/" stands for a scratch directory
 * holding real lab files (cert.pem: a certificate naming node1 with its
 * chain; key.pem and ca.pem: readable files), so that a file can pass
 * every check.
 *
 * Properties checked on every input:
 *  - a refusal comes with a message;
 *  - an accepted configuration is complete and consistent: name, cluster,
 *    listen address, certificate, key, CA, version (of a known class),
 *    role c or e, verify mode, data and admin set; at most
 *    CONFIG_MAX_PEERS peers with distinct names (without case), none of
 *    them this node; dead-ms above heartbeat-ms; the primary, when given,
 *    this node or a peer;
 *  - nothing is silently cut: a NUL byte on a line that is not a comment
 *    and a line longer than the reader takes in one piece are refused,
 *    never read as a shorter value;
 *  - no sanitizer report, no leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "fuzzutil.h"

#define LINE_MAX_READ 1023 /* what config.c reads of a line in one piece */

static char dir[512];

static void put_seed(const char *from_name, const char *to_name)
{
	char from[1024], to[600];
	static char buf[1 << 16];
	size_t n;
	FILE *f;

	snprintf(from, sizeof(from), "%s/tests/fuzz/corpus/fuzz_audit/%s",
		 EKL_SOURCE_DIR, from_name);
	f = fopen(from, "rb");
	if (f == NULL) {
		perror(from);
		abort();
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fz_write_file(to_name, buf, n, to, sizeof(to));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	snprintf(dir, sizeof(dir), "%s", fz_tmpdir());
	put_seed("combined-chain.pem", "cert.pem");
	put_seed("client-only-chain.pem", "client.pem");
	fz_write_file("key.pem", "not read here\n", 14, (char[600]){0}, 600);
	put_seed("combined-chain.pem", "ca.pem");
	return 0;
}

/* data with every "$T/" replaced by the scratch directory. */
static char *expand(const uint8_t *data, size_t size, size_t *len)
{
	size_t dl = strlen(dir), cap = size * (dl + 1) / 3 + size + 1;
	char *out = ekl_malloc(cap), *o = out;
	size_t i = 0;

	if (out == NULL)
		abort();
	while (i < size) {
		if (i + 3 <= size && memcmp(data + i, "$T/", 3) == 0) {
			memcpy(o, dir, dl);
			o += dl;
			*o++ = '/';
			i += 3;
		} else {
			*o++ = (char)data[i++];
		}
	}
	*len = (size_t)(o - out);
	return out;
}

/* Does the file hold a NUL on a line that is not blank or a comment, or
 * a line longer than the reader takes at once? */
static bool has_cut(const char *s, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n')
			continue;
		{
			const char *l = s + start;
			size_t len = i - start, k = 0;

			while (k < len && (l[k] == ' ' || l[k] == '\t'))
				k++;
			if (len > LINE_MAX_READ && !(k < len && l[k] == '#'))
				return true;
			if (k < len && l[k] != '#' && l[k] != '\0' &&
			    memchr(l, '\0', len) != NULL)
				return true;
		}
		start = i + 1;
	}
	return false;
}

static void check_accepted(const struct config *c)
{
	int i, j;

	FZ_CHECK(c->name[0] && c->cluster[0] && c->listen.len != 0 &&
		     c->cert != NULL && c->key != NULL && c->ca != NULL &&
		     c->version[0] && c->data != NULL && c->admin != NULL,
		 "an accepted configuration misses a required value");
	FZ_CHECK(c->role == 'c' || c->role == 'e', "role %d", c->role);
	FZ_CHECK(c->n_peers >= 0 && c->n_peers <= CONFIG_MAX_PEERS, "%d peers",
		 c->n_peers);
	FZ_CHECK(c->dead_ms > c->heartbeat_ms, "dead-ms %d, heartbeat %d",
		 c->dead_ms, c->heartbeat_ms);
	for (i = 0; i < c->n_peers; i++) {
		FZ_CHECK(strcasecmp(c->peers[i].name, c->name) != 0,
			 "this node as its own peer");
		for (j = 0; j < i; j++)
			FZ_CHECK(
			    strcasecmp(c->peers[i].name, c->peers[j].name) != 0,
			    "peer %s twice", c->peers[i].name);
	}
	FZ_CHECK(c->primary[0] == '\0' ||
		     strcasecmp(c->primary, c->name) == 0 ||
		     config_peer_index(c, c->primary) >= 0,
		 "primary %s is no member", c->primary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[EKL_ERRLEN] = "";
	char path[600];
	char *argv[4];
	struct config c;
	size_t len;
	char *text = expand(data, size, &len);
	int rc;

	fz_write_file("node.conf", text, len, path, sizeof(path));
	argv[0] = "ekunode";
	argv[1] = "--config";
	argv[2] = path;
	argv[3] = NULL;
	rc = config_parse(&c, 3, argv, err);
	if (rc == EKL_ENOMEM)
		abort();
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_config: %s\n",
			rc != 0 ? err : "accepted");
	if (rc != 0) {
		FZ_CHECK(err[0] != '\0', "refusal %d without a message", rc);
	} else {
		FZ_CHECK(!has_cut(text, len),
			 "a NUL or an over-long line was accepted (the value "
			 "read is cut)");
		check_accepted(&c);
	}
	config_close(&c);
	ekl_free(text);
	return 0;
}
