/* plan_parse.c: placeholder, being written. */
