/* admin_client.h: talk to a node's admin socket (protocol: node/admin.h). */
#ifndef EKULAB_CLI_ADMIN_CLIENT_H
#define EKULAB_CLI_ADMIN_CLIENT_H

#include <stdbool.h>

/* Connect to the socket at path; returns the fd or a negative code with
 * err naming the path and what to check. */
int admin_client_connect(const char *path, char *err);

/* Send one command and read its response. *body is owned by the caller
 * (ekl_free); *ok says whether the node answered "ok" or "err". */
int admin_client_call(int fd, bool json, const char *command, bool *ok,
		      char **body, char *err);

#endif
