/* test_explore_count.c: `plan explore`'s counts against an independent
 * count on 3-5 node clusters, under every dial mode, link rule, criterion
 * and upload setting (--allow-scp, server_eku_upload, roles, versions,
 * release dates).
 *
 * The independent side is written here from the rules in docs/model.md,
 * not from the model's code: it calls neither pol_decide, labmodel nor
 * the upload rule, and it enumerates every ordering one by one (no
 * dynamic programming). Only the safety of a set of steps is cached (it
 * does not depend on the order, which docs/model.md states and the
 * enumeration does not otherwise rely on). The rules it restates:
 *
 *   EKU       a certificate serves a purpose when it has no EKU extension
 *             or lists that purpose (anyExtendedKeyUsage serves none);
 *             every certificate of the chain is checked (leaf and issuing
 *             CA; the lab root has no EKU). Profiles: combined = S+C,
 *             server-only = S, client-only = C, no-eku = none, any-eku =
 *             anyEKU only. Issuing CAs: unrestricted = none,
 *             server-only = S, combined = S+C.
 *   connect   i dials j: in Enforce, i requires serverAuth on j's chain;
 *             j, in Enforce and pre-X15.4, requires clientAuth on i's;
 *             X15.4 and X15.5 acceptors skip it for ClusterDB; Permissive
 *             checks nothing. (No client certificates here.)
 *   dial      both: everyone dials everyone; lower-name: of a pair the
 *             lower name (case-insensitively); primary: only the primary.
 *   link      both: linked when every dialled direction connects (and
 *             one is dialled); either: when one does.
 *   safe      primary: every node is linked to the primary; mesh: every
 *             pair is linked.
 *   upload    server slot: serverAuth required; pre-X15.4 also
 *             clientAuth; X15.4 Expressway-C also clientAuth; X15.4
 *             Expressway-E also clientAuth unless EnableServerEkuUpload
 *             (server_eku_upload); X15.5 nothing more. --allow-scp: a
 *             refused renewal is copied in anyway.
 *   release   X15.4 from 2026-03-01, X15.5 from 2026-06-01; an upgrade
 *             can happen only when its version is out at the evaluation
 *             time.
 *   ordering  safe when the start is safe and each step can happen when
 *             it comes and leaves a safe state; else it fails at the
 *             first step that cannot happen ("refused") or at the first
 *             unsafe state ("unsafe").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "model/plan/plan.h"
#include "testutil.h"

#define MAXN 5
#define MAXK 8

enum { V_PRE = 0, V_154, V_155 };
#define E_S 1u
#define E_C 2u
#define E_X 4u /* an EKU extension is present */

static char dir[512];

/* ---- the independent rules ---- */

struct inode {
	char name[16];
	int version; /* V_* */
	bool e_role;
	bool seu;
	bool enforce;
	int profile; /* enum pki_profile */
	int ca;	     /* enum pki_ca */
};

struct icase {
	size_t n;
	struct inode nodes[MAXN];
	size_t primary;
	int dial; /* 0 both, 1 lower-name, 2 primary */
	bool link_either;
	bool mesh;
	bool allow_scp;
	int goal_version;
	int goal_profile;
	bool goal_has_ca;
	int goal_ca;
	int64_t at;
};

static unsigned leaf_eku(int profile)
{
	switch (profile) {
	case PKI_PROFILE_COMBINED: return E_X | E_S | E_C;
	case PKI_PROFILE_SERVER_ONLY: return E_X | E_S;
	case PKI_PROFILE_CLIENT_ONLY: return E_X | E_C;
	case PKI_PROFILE_NO_EKU: return 0;
	default: return E_X; /* anyExtendedKeyUsage: serves nothing */
	}
}

static unsigned ca_eku(int ca)
{
	switch (ca) {
	case PKI_CA_SERVER_ONLY: return E_X | E_S;
	case PKI_CA_COMBINED: return E_X | E_S | E_C;
	default: return 0;
	}
}

static bool serves(unsigned eku, unsigned purpose)
{
	return !(eku & E_X) || (eku & purpose);
}

static bool chain_serves(const struct inode *n, unsigned purpose)
{
	return serves(leaf_eku(n->profile), purpose) &&
	       serves(ca_eku(n->ca), purpose);
}

static bool connects(const struct inode *i, const struct inode *j)
{
	if (i->enforce && !chain_serves(j, E_S))
		return false;
	if (j->enforce && j->version == V_PRE && !chain_serves(i, E_C))
		return false;
	return true;
}

static bool dials(const struct icase *c, size_t i, size_t j)
{
	switch (c->dial) {
	case 0: return true;
	case 1: return strcasecmp(c->nodes[i].name, c->nodes[j].name) < 0;
	default: return i == c->primary;
	}
}

static bool linked(const struct icase *c, const struct inode *nd, size_t a,
		   size_t b)
{
	bool dab = dials(c, a, b), dba = dials(c, b, a);
	bool ab = dab && connects(&nd[a], &nd[b]);
	bool ba = dba && connects(&nd[b], &nd[a]);

	if (c->link_either)
		return ab || ba;
	return (dab || dba) && (!dab || ab) && (!dba || ba);
}

static bool safe_state(const struct icase *c, const struct inode *nd)
{
	size_t a, b;

	for (a = 0; a < c->n; a++)
		for (b = a + 1; b < c->n; b++) {
			if (!c->mesh && a != c->primary && b != c->primary)
				continue;
			if (!linked(c, nd, a, b))
				return false;
		}
	return true;
}

static bool upload_ok(const struct inode *n, int profile)
{
	unsigned e = leaf_eku(profile);

	if (!serves(e, E_S))
		return false;
	switch (n->version) {
	case V_PRE: return serves(e, E_C);
	case V_154: return (n->e_role && n->seu) || serves(e, E_C);
	default: return true;
	}
}

static bool released(int version, int64_t at)
{
	if (version == V_154)
		return at >= 1772323200; /* 2026-03-01 */
	if (version == V_155)
		return at >= 1780272000; /* 2026-06-01 */
	return true;
}

/* The steps, as explore's documentation defines them: per node (file
 * order) an upgrade when its version differs from the goal, then a renew
 * when its profile or CA does. */
struct istep {
	size_t node;
	bool upgrade;
};

static size_t isteps(const struct icase *c, struct istep *out)
{
	size_t k = 0, i;

	for (i = 0; i < c->n; i++) {
		const struct inode *n = &c->nodes[i];
		int ca = c->goal_has_ca ? c->goal_ca : n->ca;

		if (n->version != c->goal_version)
			out[k++] = (struct istep){i, true};
		if (n->profile != c->goal_profile || n->ca != ca)
			out[k++] = (struct istep){i, false};
	}
	return k;
}

static void apply_step(const struct icase *c, struct inode *nd,
		       const struct istep *s)
{
	struct inode *n = &nd[s->node];

	if (s->upgrade) {
		n->version = c->goal_version;
	} else {
		n->profile = c->goal_profile;
		if (c->goal_has_ca)
			n->ca = c->goal_ca;
	}
}

static bool can_happen(const struct icase *c, const struct inode *nd,
		       const struct istep *s)
{
	if (s->upgrade)
		return released(c->goal_version, c->at);
	return c->allow_scp || upload_ok(&nd[s->node], c->goal_profile);
}

struct icount {
	bool start_safe;
	uint64_t orderings, safe, refused, unsafe;
	bool reachable; /* some ordering has every step happen */
};

static bool next_perm(int *a, size_t n)
{
	size_t i, j;
	int t;

	if (n < 2)
		return false;
	i = n - 1;
	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return false;
	j = n - 1;
	while (a[j] <= a[i - 1])
		j--;
	t = a[i - 1];
	a[i - 1] = a[j];
	a[j] = t;
	for (j = n - 1; i < j; i++, j--) {
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return true;
}

static void count_brute(const struct icase *c, struct icount *out)
{
	struct istep st[2 * MAXN];
	signed char memo[1u << MAXK];
	struct inode nd[MAXN];
	int perm[2 * MAXN];
	size_t k = isteps(c, st), i;

	memset(out, 0, sizeof(*out));
	memset(memo, -1, sizeof(memo));
	ck_assert_uint_le(k, MAXK);
	out->start_safe = safe_state(c, c->nodes);
	for (i = 0; i < k; i++)
		perm[i] = (int)i;
	do {
		unsigned done = 0;
		bool all_happen = true;
		int fate = 0; /* 0 safe, 1 refused, 2 unsafe */

		out->orderings++;
		memcpy(nd, c->nodes, sizeof(nd));
		if (!out->start_safe)
			fate = 2;
		for (i = 0; i < k; i++) {
			const struct istep *s = &st[perm[i]];

			if (!can_happen(c, nd, s)) {
				all_happen = false;
				if (fate == 0)
					fate = 1;
			}
			apply_step(c, nd, s);
			done |= 1u << perm[i];
			if (memo[done] < 0)
				memo[done] = (signed char)safe_state(c, nd);
			if (!memo[done] && fate == 0)
				fate = 2;
		}
		out->reachable |= all_happen;
		if (fate == 0)
			out->safe++;
		else if (fate == 1)
			out->refused++;
		else
			out->unsafe++;
	} while (next_perm(perm, k));
}

/* ---- random clusters ---- */

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const vnames[] = {"X15.3.2", "X15.4", "X15.5"};
static const int profiles[] = {PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY,
			       PKI_PROFILE_CLIENT_ONLY, PKI_PROFILE_NO_EKU};
static const int64_t ats[] = {
    1768435200, /* 2026-01-15: neither fix is out */
    1775001600, /* 2026-04-01: X15.4 only */
    1790812800, /* 2026-10-01: both */
};

static void random_case(struct icase *c, int dial, bool either, bool mesh,
			bool scp)
{
	size_t i, k;
	struct istep st[2 * MAXN];
	bool perm;

	do {
		memset(c, 0, sizeof(*c));
		c->n = 3 + rnd(3);
		c->dial = dial;
		c->link_either = either;
		c->mesh = mesh;
		c->allow_scp = scp;
		c->primary = rnd((unsigned)c->n);
		c->goal_version = 1 + (int)rnd(2); /* X15.4 or X15.5 */
		c->goal_profile =
		    rnd(4) ? PKI_PROFILE_SERVER_ONLY : PKI_PROFILE_COMBINED;
		c->goal_has_ca = rnd(2);
		c->goal_ca = rnd(3) ? PKI_CA_SERVER_ONLY : PKI_CA_COMBINED;
		c->at = ats[rnd(3)];
		perm = rnd(10) == 0; /* the cluster's verify mode */
		for (i = 0; i < c->n; i++) {
			struct inode *n = &c->nodes[i];

			/* Names out of file order, so lower-name and the
			 * carrier are not the index order. */
			snprintf(n->name, sizeof(n->name), "n%c",
				 (char)('a' + (i * 3 + 2) % 5));
			n->version = (int)rnd(3);
			n->e_role = rnd(2);
			n->seu = rnd(2);
			n->enforce = !perm;
			n->profile =
			    rnd(3) ? PKI_PROFILE_COMBINED : profiles[rnd(4)];
			n->ca =
			    rnd(4) ? PKI_CA_UNRESTRICTED : (int)(1 + rnd(2));
		}
	} while (isteps(c, st) > MAXK || (k = isteps(c, st)) < 2);
}

/* The same cluster as a topology file for the model. */
static void to_topo(const struct icase *c, struct topo *t)
{
	static const char *const dn[] = {"both", "lower-name", "primary"};
	char path[700], err[EKL_ERRLEN] = "";
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"cluster: {primary: %s, dial: %s, link: %s, verify: %s}\n"
		"nodes:\n",
		c->nodes[c->primary].name, dn[c->dial],
		c->link_either ? "either" : "both",
		c->nodes[0].enforce ? "enforce" : "permissive");
	for (i = 0; i < c->n; i++) {
		const struct inode *n = &c->nodes[i];

		fprintf(f,
			"  %s: {version: %s, role: %s, server_eku_upload: %s, "
			"cert: {profile: %s, ca: %s}}\n",
			n->name, vnames[n->version], n->e_role ? "e" : "c",
			n->seu ? "true" : "false",
			pki_profile_name((enum pki_profile)n->profile),
			pki_ca_name((enum pki_ca)n->ca));
	}
	fclose(f);
	ck_assert_msg(topo_load(path, t, err) == 0, "%s", err);
}

static void setup(void)
{
	const char *t = tu_tmpdir("explore_count");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
}

/* What the cases covered, so that the agreement proves something. */
struct coverage {
	size_t cases, safe_some, blocked, refusing, unsafe_only, early;
};

/* One cluster: explore's counts against the enumeration. */
static void check_case(struct plan_explore *x, int dial, bool either, bool mesh,
		       bool scp, struct coverage *cov)
{
	struct icase c;
	struct icount want;
	struct plan_goal g;
	char err[EKL_ERRLEN] = "";
	struct topo t;
	size_t i;

	random_case(&c, dial, either, mesh, scp);
	count_brute(&c, &want);
	to_topo(&c, &t);
	memset(&g, 0, sizeof(g));
	g.version = vnames[c.goal_version];
	g.profile = (enum pki_profile)c.goal_profile;
	g.has_ca = c.goal_has_ca;
	g.ca = (enum pki_ca)c.goal_ca;
	g.criterion = mesh ? LAB_CRIT_MESH : LAB_CRIT_PRIMARY;
	g.allow_scp = scp;
	ck_assert_msg(plan_explore_run(&t, &g, c.at, x, err) == 0, "%s", err);
	ck_assert_uint_eq(x->orderings, want.orderings);
	ck_assert_msg(x->start_safe == want.start_safe, "case %zu", cov->cases);
	ck_assert_msg(x->safe == want.safe,
		      "case %zu (dial %d, link %s, %s, scp %d): explore "
		      "counts %llu safe, the enumeration %llu",
		      cov->cases, dial, either ? "either" : "both",
		      mesh ? "mesh" : "primary", scp,
		      (unsigned long long)x->safe,
		      (unsigned long long)want.safe);
	if (want.start_safe) {
		ck_assert_msg(x->refused == want.refused,
			      "case %zu: refused %llu, enumeration %llu",
			      cov->cases, (unsigned long long)x->refused,
			      (unsigned long long)want.refused);
		ck_assert_uint_eq(x->orderings - x->safe - x->refused,
				  want.unsafe);
	}
	/* Blocked exactly when no ordering lets every step happen. */
	ck_assert_msg(x->block.blocked == !want.reachable, "case %zu",
		      cov->cases);
	/* A recommendation exists exactly when a safe ordering does, and
	 * it is one: every step can happen, every state is safe. */
	if (x->safe > 0) {
		struct inode nd[MAXN];
		struct istep st[2 * MAXN];

		ck_assert_uint_eq(isteps(&c, st), x->n_steps);
		memcpy(nd, c.nodes, sizeof(nd));
		for (i = 0; i < x->n_steps; i++) {
			const struct plan_xstep *xs =
			    &x->steps[x->recommended[i]];
			struct istep one = {(size_t)xs->node, xs->upgrade};

			ck_assert(can_happen(&c, nd, &one));
			apply_step(&c, nd, &one);
			ck_assert(safe_state(&c, nd));
		}
		cov->safe_some++;
	} else if (!x->block.blocked) {
		cov->unsafe_only++;
	}
	cov->blocked += x->block.blocked;
	cov->refusing += want.refused > 0;
	cov->early += !released(c.goal_version, c.at);
	cov->cases++;
	topo_free(&t);
}

/* Every dial mode x link rule x criterion x --allow-scp, 8 clusters each. */
START_TEST(test_counts_agree)
{
	struct plan_explore *x = ekl_calloc(1, sizeof(*x));
	struct coverage cov;
	int combo, r;

	ck_assert_ptr_nonnull(x);
	memset(&cov, 0, sizeof(cov));
	for (combo = 0; combo < 24; combo++)
		for (r = 0; r < 8; r++)
			check_case(x, combo / 8, (combo / 4) % 2,
				   (combo / 2) % 2, combo % 2, &cov);
	/* The cases cover what they must, or the agreement proves little. */
	ck_assert_uint_eq(cov.cases, 192);
	ck_assert_uint_gt(cov.safe_some, 20);
	ck_assert_uint_gt(cov.blocked, 10);
	ck_assert_uint_gt(cov.refusing, 20);
	ck_assert_uint_gt(cov.unsafe_only, 5);
	ck_assert_uint_gt(cov.early, 10);
	ekl_free(x);
}
END_TEST

/* The rules restated here agree with the field notice's examples, so the
 * comparison above is not between two wrong copies: a pre-X15.4 Enforce
 * acceptor refuses a server-only initiator; X15.4 does not; Expressway-C
 * on X15.4 refuses a server-only upload. */
START_TEST(test_rules_sanity)
{
	struct inode pre = {"a",
			    V_PRE,
			    false,
			    false,
			    true,
			    PKI_PROFILE_COMBINED,
			    PKI_CA_UNRESTRICTED};
	struct inode so = {"b",
			   V_PRE,
			   false,
			   false,
			   true,
			   PKI_PROFILE_SERVER_ONLY,
			   PKI_CA_SERVER_ONLY};
	struct inode x154 = {"c",
			     V_154,
			     false,
			     false,
			     true,
			     PKI_PROFILE_COMBINED,
			     PKI_CA_UNRESTRICTED};

	ck_assert(!connects(&so, &pre));
	ck_assert(connects(&pre, &so));
	ck_assert(connects(&so, &x154));
	ck_assert(!upload_ok(&x154, PKI_PROFILE_SERVER_ONLY));
	x154.e_role = x154.seu = true;
	ck_assert(upload_ok(&x154, PKI_PROFILE_SERVER_ONLY));
	ck_assert(!upload_ok(&pre, PKI_PROFILE_SERVER_ONLY));
	ck_assert(!released(V_155, 1775001600));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("explore_count");
	TCase *tc = tcase_create("plan_explore_run");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_rules_sanity);
	tcase_add_test(tc, test_counts_agree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
