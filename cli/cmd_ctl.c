/* cmd_ctl.c: placeholder until the command lands. */
#include "cmd.h"

int cmd_ctl(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_fail("ctl: not built yet");
	return 2;
}
