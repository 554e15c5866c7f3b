/* tls.c: placeholder until the module lands. */
