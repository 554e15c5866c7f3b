/* pki.c: placeholder until the module lands. */
