/* plan_explore.c: placeholder, being written. */
