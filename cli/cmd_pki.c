/* cmd_pki.c: placeholder until the command lands. */
#include "cmd.h"

int cmd_pki(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_fail("pki: not built yet");
	return 2;
}
