/* certinfo.c: placeholder until the module lands. */
