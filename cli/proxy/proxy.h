/* proxy.h: the lab's link-fault proxy: TCP routes between nodes, named faults.
 *
 * One route per directed peer link "FROM>TO": the proxy listens on its own
 * address and forwards every accepted connection to TO's real listen
 * address, moving TCP bytes only (TLS stays end to end). Faults change what
 * a route does; they are named, listed and removed through a control socket
 * (Unix, 0600) that speaks the admin protocol (ekulab/wire/adminproto.h):
 *
 *   routes                                  every route, its counters, faults
 *   fault add NAME KIND ROUTES [KEY=VALUE]  ROUTES: "A>B,B>A" or "*"
 *   fault list
 *   fault remove NAME | fault remove all
 *   help
 *
 * KIND is down, blackhole, reset, latency (ms=N [jitter=N]), bandwidth
 * (rate=BYTES_PER_S), slow_close (ms=N), timeout (ms=N), slicer
 * (average_size=N [size_variation=N] [delay_us=N]) or limit_data
 * (bytes=N); any kind also takes direction=both|upstream|downstream and
 * toxicity=P (0-1: the share of connections it acts on). docs/faults.md
 * says what each does to new and existing connections. Everything runs on
 * the caller's libev loop; no function is thread safe.
 */
#ifndef EKULAB_CLI_PROXY_H
#define EKULAB_CLI_PROXY_H

#include <ev.h>

struct proxy;

/* Longest node or fault name, and route name ("FROM>TO"), without the
 * NUL. */
#define PROXY_NAME_MAX	63
#define PROXY_ROUTE_MAX (2 * PROXY_NAME_MAX + 1)

/* A proxy with no routes on loop (not owned; must outlive the proxy). */
int proxy_new(struct ev_loop *loop, struct proxy **out, char *err);

/* Add and start listening on a route: spec is "FROM>TO=LISTEN,TARGET",
 * e.g. "node1>node2=127.0.0.1:21001,127.0.0.1:20002". Names are letters,
 * digits, '.', '_' and '-'. Routes can only be added while no fault
 * exists. */
int proxy_add_route(struct proxy *p, const char *spec, char *err);

/* Serve the control socket at path (created 0600). A stale socket left by
 * a dead proxy is replaced; a live one, or a non-socket file, is an
 * error. */
int proxy_control_start(struct proxy *p, const char *path, char *err);

/* Close every connection, listener and control client, remove the control
 * socket file, free p. Accepts NULL. */
void proxy_free(struct proxy *p);

#endif
