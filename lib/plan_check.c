/* plan_check.c: placeholder, being written. */
