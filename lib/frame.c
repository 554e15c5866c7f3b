/* frame.c: placeholder until the module lands. */
