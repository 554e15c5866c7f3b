/* labup.c: `ekulab bench --lab`: how long `lab up` of a 6-node lab takes
 * until its links have settled, with the process runtime and with the
 * docker runtime, each on a lab of its own (the lab's defaults: every link
 * through the link-fault proxy, fast timers, as `ekulab lab up` makes it).
 *
 * The clock runs from before lab_up() (PKI, certificates, configurations,
 * processes or containers) until every node reports every one of its
 * links up (both ends of every pair), and stops before the lab is taken
 * down. The node image is made ready (built when stale) before it. A runtime
 * that cannot run here (no Docker engine, no node image) gives -1 and its
 * reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_int.h"
#include "ekulab/core/err.h"
#include "lab/lab_runtime.h"
#include "lab/lab_status.h"

#define LAB_SETTLE_S 60

/* Every node answers and sees its link to every other node up. */
static bool settled(const struct lab *l, char *err)
{
	struct lab_status s;
	bool all = true;
	size_t i, j;

	if (lab_status_collect(l, &s, err) != 0)
		return false;
	for (i = 0; i < s.n && all; i++)
		for (j = 0; j < s.n && all; j++)
			all = i == j || (s.nodes[i].answers &&
					 s.nodes[i].peers[j].link_up);
	lab_status_free(&s);
	return all;
}

/* Seconds from nothing to a settled lab on runtime, or -1 (err says
 * why). The lab is taken down and its state directory removed. */
static double time_up(const char *runtime, int nodes, char *err)
{
	struct topo topo;
	struct lab lab;
	char dir[LAB_PATH_MAX], rmerr[EKL_ERRLEN];
	double t0, t = -1;
	bool opened = false;

	memset(&lab, 0, sizeof(lab));
	if (bench_make_topo(&topo, nodes, err) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/ekulab-benchlab.XXXXXX", lab_tmpdir());
	if (mkdtemp(dir) == NULL) {
		ekl_errf(err, EKL_EIO, "mkdtemp %s failed", dir);
		topo_free(&topo);
		return -1;
	}
	if (lab_open_topo(&lab, &topo, "bench-lab", dir, err) != 0)
		goto out;
	opened = true;
	/* A node image built for other programs is built again by up:
	 * before the clock, so that the figure is the lab's alone. */
	if (strcmp(runtime, "docker") == 0 &&
	    lab_image_ready(NULL, NULL, 0, err) != 0)
		goto out;
	t0 = bench_now();
	if (lab_up(&lab, runtime, err) != 0)
		goto out;
	while (!settled(&lab, err)) {
		if (bench_now() - t0 > LAB_SETTLE_S) {
			ekl_errf(err, EKL_EIO,
				 "%s: the links did not settle within %d s",
				 runtime, LAB_SETTLE_S);
			goto down;
		}
		usleep(2000);
	}
	t = bench_now() - t0;
down:
	lab_stop_all(&lab);
out:
	if (opened)
		lab_close(&lab);
	(void)lab_remove_dir(dir, rmerr);
	topo_free(&topo);
	return t;
}

int bench_lab(struct bench *b, FILE *progress)
{
	fprintf(progress, "ekulab bench: lab up of %d nodes, processes...\n",
		BENCH_LAB_NODES);
	b->lab_up_s[0] = time_up("process", BENCH_LAB_NODES, b->lab_err[0]);
	fprintf(progress, "ekulab bench: lab up of %d nodes, containers...\n",
		BENCH_LAB_NODES);
	b->lab_up_s[1] = time_up("docker", BENCH_LAB_NODES, b->lab_err[1]);
	return 0;
}
