/* lab_graph.h: a topology or a plan drawn as the model predicts it, no
 * lab needed: DOT, SVG and Mermaid.
 *
 * Every cluster is a group (its role, C or E, in its title) holding its
 * nodes and their ClusterDB connections; every external peer is a group
 * of its own; the connections of each zone are drawn between the groups,
 * one arrow per zone, service and direction, labelled with the service
 * and how its connections end ("traversal: ok (4)", "mra: client-purpose,
 * 2 of 4 (c1 rejects)"). The words are the model's (labmodel_why_name),
 * as `lab status` and `plan check` print them.
 *
 * `lab graph` uses it for a plan file (its topology, or with --step N the
 * state after step N), for a deployment topology (clusters:, externals:,
 * zones:) whose lab is not up, and, with the observation as p, for a
 * deployment whose lab is up (lab_status_svg and its siblings). */
#ifndef EKULAB_CLI_LAB_GRAPH_H
#define EKULAB_CLI_LAB_GRAPH_H

#include <stdbool.h>
#include <stdio.h>

#include "model/labmodel.h"

enum lab_graph_format { LAB_GRAPH_DOT, LAB_GRAPH_SVG, LAB_GRAPH_MERMAID };

/* Draw state s with its prediction p; `title` heads the picture (e.g.
 * "deployment mra-lab: the model's prediction (the lab is not up)"). */
void lab_graph_write(const struct lab_state *s, const struct lab_prediction *p,
		     const char *title, enum lab_graph_format fmt, FILE *f);

struct lab_graph_opts {
	const char *dot;     /* file, or "-" for stdout */
	const char *svg;     /* file */
	const char *mermaid; /* file, or "-" */
	long step;	     /* plans: after this step (0: before any); -1:
				not given */
	const char *state;   /* the lab's state directory (--state) */
};

/* `lab graph FILE` when FILE is a plan, or a deployment topology whose
 * lab is not up: draws the prediction in the formats asked (DOT to stdout
 * when none) and returns the exit code (0, 1 a file could not be written,
 * 2 a bad file or option, with the message printed). Returns -1 when it
 * is not for it (a lab's name, a one-cluster topology, a lab that is up):
 * the caller draws the lab then. */
int lab_graph_offline(const char *path, const struct lab_graph_opts *o);

#endif
