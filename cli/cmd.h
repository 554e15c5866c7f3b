/* cmd.h: the ekulab subcommands; each returns the process exit status. */
#ifndef EKULAB_CLI_CMD_H
#define EKULAB_CLI_CMD_H

/* argv[0] is the subcommand name ("pki", "ctl", ...). */
int cmd_pki(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_soak(int argc, char **argv);
int cmd_image(int argc, char **argv);

/* Print "ekulab: <msg>" to stderr. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
