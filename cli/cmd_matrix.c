/* cmd_matrix.c: placeholder until the command lands. */
#include "cmd.h"

int cmd_matrix(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_fail("matrix: not built yet");
	return 2;
}
