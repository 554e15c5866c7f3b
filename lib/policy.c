/* policy.c: placeholder until the module lands. */
