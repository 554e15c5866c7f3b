/* test_admin.c: the node's admin (node/admin): its network admin channel
 * (--admin-listen) over real TLS 1.3 on loopback, with certificates of a
 * real lab PKI: the admin rule refuses a client without a certificate,
 * with a node certificate of the same lab, with a certificate of the
 * admin CA not meant for a client, with the admin certificate of another
 * lab, and accepts the lab's admin certificate; the Unix socket keeps
 * working next to it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "admin/admin.h"
#include "client/admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "testutil.h"

static struct {
	struct ev_loop *loop;
	struct admin *admin;
	ev_async stop;
	pthread_t th;
	char dir[600];
	char pki[700];
	char other[700]; /* another lab's PKI */
	char sock[700];
	char log[700]; /* the node's log: stderr, redirected */
	int port;
} S;

/* Wait (bounded) until the node's log holds `what`: the node logs a
 * refusal from its loop, maybe just after the client saw it. */
static bool logged(const char *what)
{
	char buf[16384];
	int k;

	for (k = 0; k < 200; k++) {
		FILE *f = fopen(S.log, "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, what) != NULL)
			return true;
		usleep(10000);
	}
	return false;
}

/* The node's status callback: a fixed JSON object or text. */
static char *fake_status(void *arg, bool json)
{
	(void)arg;
	return ekl_strdup(json ? "{\"node\":\"n1\"}" : "node n1\n");
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *serve(void *arg)
{
	(void)arg;
	ev_run(S.loop, 0);
	return NULL;
}

static void issue(const char *dir, const char *name, enum pki_profile p,
		  bool admin, enum pki_ca ca, const char *san)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN];

	memset(&o, 0, sizeof(o));
	o.name = name;
	if (san != NULL) {
		o.sans[0] = san;
		o.n_sans = 1;
	}
	o.profile = p;
	o.admin = admin;
	o.ca = ca;
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
}

/* A lab PKI in dir: root, issuing CAs, the admin CA, the node n1's
 * ClusterDB certificate, its admin certificate and the admin client's. */
static void make_pki(const char *dir)
{
	char err[EKL_ERRLEN];

	ck_assert_msg(pki_init(dir, false, err) == 0, "%s", err);
	ck_assert_msg(pki_admin_init(dir, err) == 0, "%s", err);
	issue(dir, "n1", PKI_PROFILE_COMBINED, false, PKI_CA_COMBINED, NULL);
	issue(dir, "admin-n1", PKI_PROFILE_SERVER_ONLY, true, 0, "n1");
	issue(dir, "admin", PKI_PROFILE_CLIENT_ONLY, true, 0, NULL);
}

static void setup(void)
{
	char err[EKL_ERRLEN], ca[800], cert[800], key[800];
	struct admin_env env;
	struct addr listen;
	const char *tmp = tu_tmpdir("admin");

	signal(SIGPIPE, SIG_IGN);
	memset(&S, 0, sizeof(S));
	snprintf(S.dir, sizeof(S.dir), "%s", tmp);
	snprintf(S.log, sizeof(S.log), "%s/node.log", S.dir);
	ck_assert_ptr_nonnull(freopen(S.log, "w", stderr));
	setvbuf(stderr, NULL, _IONBF, 0);
	ekl_log_set_level(EKL_LOG_INFO);
	snprintf(S.pki, sizeof(S.pki), "%s/pki", S.dir);
	snprintf(S.other, sizeof(S.other), "%s/other", S.dir);
	snprintf(S.sock, sizeof(S.sock), "%s/admin.sock", S.dir);
	make_pki(S.pki);
	make_pki(S.other);
	snprintf(ca, sizeof(ca), "%s/ca-admin.crt", S.pki);
	snprintf(cert, sizeof(cert), "%s/admin-n1.crt", S.pki);
	snprintf(key, sizeof(key), "%s/admin-n1.key", S.pki);
	{
		char hp[64];
		int fd, port;

		/* A free port, released for the admin to bind. */
		ck_assert_msg(addr_reserve(0, &fd, &port, err) == 0, "%s", err);
		close(fd);
		snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
		ck_assert_int_eq(addr_parse(hp, &listen, err), 0);
	}
	S.loop = ev_loop_new(EVFLAG_AUTO);
	memset(&env, 0, sizeof(env));
	env.loop = S.loop;
	env.name = "n1";
	env.status = fake_status;
	env.tls_listen = &listen;
	env.tls_listen_text = "127.0.0.1:0";
	env.tls_files.ca = ca;
	env.tls_files.cert = cert;
	env.tls_files.key = key;
	ck_assert_msg(admin_start(&env, S.sock, &S.admin, err) == 0, "%s", err);
	S.port = admin_tls_port(S.admin);
	ck_assert_int_gt(S.port, 0);
	ev_async_init(&S.stop, on_stop);
	ev_async_start(S.loop, &S.stop);
	ck_assert_int_eq(pthread_create(&S.th, NULL, serve, NULL), 0);
}

static void teardown(void)
{
	ev_async_send(S.loop, &S.stop);
	pthread_join(S.th, NULL);
	admin_stop(S.admin);
	ev_loop_destroy(S.loop);
}

/* A raw TLS client: presents dir/stem.crt (none when stem is NULL),
 * trusts `trust`, sends one request and reads the response header. true
 * when the node answered "ok"; why gets what happened otherwise. */
static bool raw_ask(const char *dir, const char *stem, const char *trust,
		    char *why, size_t wlen)
{
	struct sockaddr_in sin;
	char path[800], buf[64] = "";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	int fd, n;
	bool ok = false;

	why[0] = '\0';
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, trust, NULL), 1);
	X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx),
			     X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (stem != NULL) {
		snprintf(path, sizeof(path), "%s/%s.crt", dir, stem);
		ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx, path),
				 1);
		snprintf(path, sizeof(path), "%s/%s.key", dir, stem);
		ck_assert_int_eq(
		    SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM),
		    1);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)S.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		snprintf(why, wlen, "handshake failed");
		goto out;
	}
	/* TLS 1.3: the node judges our certificate after our handshake
	 * ends; a refusal arrives as an alert instead of the response. */
	if (SSL_write(ssl, "text help\n", 10) != 10) {
		snprintf(why, wlen, "refused: before our request was sent");
		goto out;
	}
	n = SSL_read(ssl, buf, sizeof(buf) - 1);
	if (n <= 0) {
		unsigned long e = ERR_peek_last_error();

		snprintf(why, wlen, "refused: %s",
			 e ? ERR_reason_error_string(e) : "closed");
		goto out;
	}
	buf[n] = '\0';
	ok = strncmp(buf, "ok ", 3) == 0;
	snprintf(why, wlen, "answered: %.40s", buf);
out:
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return ok;
}

static void trust_of(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/ca-admin.crt", dir);
}

START_TEST(refuses_no_certificate)
{
	char why[256], trust[800];

	trust_of(S.pki, trust, sizeof(trust));
	ck_assert_msg(!raw_ask(S.pki, NULL, trust, why, sizeof(why)), "%s",
		      why);
	ck_assert_msg(strstr(why, "refused") != NULL, "%s", why);
	ck_assert_msg(logged("the client presented no certificate"),
		      "the node logged no such line");
}
END_TEST

START_TEST(refuses_node_certificate)
{
	char why[256], trust[800];

	/* n1's ClusterDB certificate: the same lab root, clientAuth, but
	 * issued by ca-combined, not by the admin CA. */
	trust_of(S.pki, trust, sizeof(trust));
	ck_assert_msg(!raw_ask(S.pki, "n1", trust, why, sizeof(why)), "%s",
		      why);
	ck_assert_msg(strstr(why, "refused") != NULL, "%s", why);
	ck_assert_msg(
	    logged("does not meet the admin rule: unable to get local issuer"),
	    "the node logged no such line");
}
END_TEST

START_TEST(refuses_admin_ca_server_certificate)
{
	char why[256], trust[800];

	/* The node's own admin certificate: issued by the admin CA, but
	 * serverAuth only: not meant for an admin client. */
	trust_of(S.pki, trust, sizeof(trust));
	ck_assert_msg(!raw_ask(S.pki, "admin-n1", trust, why, sizeof(why)),
		      "%s", why);
	ck_assert_msg(strstr(why, "refused") != NULL, "%s", why);
	ck_assert_msg(
	    logged(
		"does not meet the admin rule: unsuitable certificate purpose"),
	    "the node logged no such line");
}
END_TEST

START_TEST(refuses_other_lab)
{
	char why[256], trust[800];

	/* Another lab's admin certificate (its own admin CA). */
	trust_of(S.pki, trust, sizeof(trust));
	ck_assert_msg(!raw_ask(S.other, "admin", trust, why, sizeof(why)), "%s",
		      why);
	ck_assert_msg(strstr(why, "refused") != NULL, "%s", why);
	ck_assert_msg(
	    logged("does not meet the admin rule: unable to get local issuer"),
	    "the node logged no such line");
}
END_TEST

START_TEST(accepts_lab_admin)
{
	char why[256], trust[800];

	trust_of(S.pki, trust, sizeof(trust));
	ck_assert_msg(raw_ask(S.pki, "admin", trust, why, sizeof(why)), "%s",
		      why);
	ck_assert_msg(logged("admin client 'admin' from 127.0.0.1"),
		      "the node logged no such line");
}
END_TEST

START_TEST(client_over_tls_and_socket)
{
	char err[EKL_ERRLEN], target[1000], *body = NULL;
	struct adminproto_opts o = {.format = ADMINPROTO_JSON};
	int fd, k;

	/* The typed client: the same calls over TLS as over the socket. */
	snprintf(target, sizeof(target), "tls://127.0.0.1:%d/n1?pki=%s", S.port,
		 S.pki);
	for (k = 0; k < 2; k++) {
		fd = admin_client_connect(k == 0 ? target : S.sock, err);
		ck_assert_msg(fd >= 0, "%s", err);
		ck_assert_msg(admin_client_get(fd, &o, "xStatus Cluster", &body,
					       err) == 0,
			      "%s", err);
		ck_assert_str_eq(body, "{\"node\":\"n1\"}");
		ekl_free(body);
		ck_assert_msg(admin_client_get(fd, &o, "xStatus Cluster", &body,
					       err) == 0,
			      "%s", err);
		ekl_free(body);
		close(fd);
	}
}
END_TEST

START_TEST(client_checks_the_node)
{
	char err[EKL_ERRLEN], target[1000];
	int fd;

	/* The node's certificate names n1, not n2. */
	snprintf(target, sizeof(target), "tls://127.0.0.1:%d/n2?pki=%s", S.port,
		 S.pki);
	fd = admin_client_connect(target, err);
	ck_assert_int_lt(fd, 0);
	ck_assert_msg(strstr(err, "admin rule") != NULL, "%s", err);
	/* Another lab's client: its admin CA is not the node's issuer. */
	snprintf(target, sizeof(target), "tls://127.0.0.1:%d/n1?pki=%s", S.port,
		 S.other);
	fd = admin_client_connect(target, err);
	ck_assert_int_lt(fd, 0);
	ck_assert_msg(strstr(err, "n1") != NULL, "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("admin");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refuses_no_certificate);
	tcase_add_test(tc, refuses_node_certificate);
	tcase_add_test(tc, refuses_admin_ca_server_certificate);
	tcase_add_test(tc, refuses_other_lab);
	tcase_add_test(tc, accepts_lab_admin);
	tcase_add_test(tc, client_over_tls_and_socket);
	tcase_add_test(tc, client_checks_the_node);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
