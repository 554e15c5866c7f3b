/* soak_report.c: the soak's summary for people and its JSON object. */
#include <stdio.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "soak.h"

void soak_summary(const struct soak_result *r, FILE *out)
{
	int k, col = 0;

	fprintf(out, "soak: %ld faults (seed %llu) in %.1f s, %ld heals",
		r->faults, (unsigned long long)r->seed, r->seconds, r->heals);
	fprintf(out, "\n  by kind:");
	for (k = 0; k < SOAK_N_KINDS; k++) {
		if (r->by_kind[k] == 0)
			continue;
		if (col++ % 6 == 0 && col > 1)
			fprintf(out, "\n          ");
		fprintf(out, " %s %ld", soak_kind_name((enum soak_kind)k),
			r->by_kind[k]);
	}
	fprintf(out,
		"\n  writes: %ld sent, %ld acknowledged (%ld ack=all, %ld "
		"ack=primary), %ld lost, %ld unexpected rows; of the "
		"unacknowledged %ld on the primary, %ld not\n",
		r->attempted, r->acked, r->acked_all, r->acked_primary, r->lost,
		r->unexpected, r->recovered, r->never_read);
	fprintf(out, "  converged: %s (%.1f s after the last heal)\n",
		r->converged ? "yes, every node on the same digest" : "NO",
		r->converge_seconds);
	fprintf(out, "  processes left behind: %ld; errors: %ld\n",
		r->left_behind, r->errors);
	if (r->state[0] != '\0')
		fprintf(out, "  lab state kept in %s\n", r->state);
	fprintf(out, "%s%s%s\n", soak_passed(r) ? "PASS" : "FAIL",
		r->why[0] ? ": " : "", r->why);
}

int soak_json(const struct soak_result *r, FILE *out)
{
	struct json j;
	const char *s;
	int k;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "seed");
	json_int(&j, (int64_t)r->seed);
	json_key(&j, "faults");
	json_int(&j, r->faults);
	json_key(&j, "by_kind");
	json_obj_begin(&j);
	for (k = 0; k < SOAK_N_KINDS; k++) {
		json_key(&j, soak_kind_name((enum soak_kind)k));
		json_int(&j, r->by_kind[k]);
	}
	json_obj_end(&j);
	json_key(&j, "heals");
	json_int(&j, r->heals);
	json_key(&j, "errors");
	json_int(&j, r->errors);
	json_key(&j, "attempted");
	json_int(&j, r->attempted);
	json_key(&j, "acked");
	json_int(&j, r->acked);
	json_key(&j, "acked_all");
	json_int(&j, r->acked_all);
	json_key(&j, "acked_primary");
	json_int(&j, r->acked_primary);
	json_key(&j, "lost");
	json_int(&j, r->lost);
	json_key(&j, "unexpected");
	json_int(&j, r->unexpected);
	json_key(&j, "never_read");
	json_int(&j, r->never_read);
	json_key(&j, "recovered");
	json_int(&j, r->recovered);
	json_key(&j, "converged");
	json_bool(&j, r->converged);
	json_key(&j, "converge_seconds");
	json_double(&j, r->converge_seconds);
	json_key(&j, "left_behind");
	json_int(&j, r->left_behind);
	json_key(&j, "seconds");
	json_double(&j, r->seconds);
	json_key(&j, "passed");
	json_bool(&j, soak_passed(r));
	json_key(&j, "why");
	json_str(&j, r->why[0] ? r->why : NULL);
	json_key(&j, "state");
	json_str(&j, r->state[0] ? r->state : NULL);
	json_obj_end(&j);
	s = json_finish(&j);
	if (s == NULL) {
		json_close(&j);
		return EKL_ENOMEM;
	}
	fprintf(out, "%s\n", s);
	json_close(&j);
	return 0;
}
