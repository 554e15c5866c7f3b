/* proxy_client.h: the lab's calls to a running `ekulab proxy` (commands:
 * cli/proxy/proxy.h), over admin_client.h; lists come from its JSON.
 *
 * Each call opens the control socket, sends one request and closes it.
 * Errors: EKL_EIO when the proxy cannot be reached (err names the socket),
 * EKL_EPROTO on a malformed response, otherwise the proxy's refusal with
 * its message in err: EKL_EEXIST (a fault of that name exists),
 * EKL_ENOENT (no fault of that name), EKL_EINVAL (anything else: unknown
 * routes, bad parameters...).
 */
#ifndef EKULAB_CLI_PROXY_CLIENT_H
#define EKULAB_CLI_PROXY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* The longest a call waits for the proxy's answer (EKL_EIO after). */
#define PROXY_CLIENT_TIMEOUT_MS 5000

/* A fault to add; the strings are only read. Zeroed fields mean the
 * defaults: both directions, every connection (toxicity 1). */
struct proxy_fault_spec {
	const char *name;	 /* letters, digits, '.', '_', '-'; not "all" */
	const char *kind;	 /* down, blackhole, reset, latency, bandwidth,
				    slow_close, timeout, slicer, limit_data */
	const char *routes;	 /* "node1>node2,node2>node1" or "*" */
	unsigned ms;		 /* latency: delay per chunk; slow_close: delay
				    of the close; timeout: close after (0 never) */
	unsigned jitter_ms;	 /* latency: +- uniform */
	unsigned long long rate; /* bandwidth: bytes per second per direction */
	unsigned long long bytes; /* limit_data: close after this many */
	unsigned average_size;	  /* slicer: piece size, +- size_variation */
	unsigned size_variation;
	unsigned delay_us;     /* slicer: between pieces */
	const char *direction; /* "upstream", "downstream"; NULL: both */
	bool has_toxicity;     /* else 1: every connection */
	double toxicity;       /* 0-1: the share of connections */
};

int proxy_client_fault_add(const char *control,
			   const struct proxy_fault_spec *f, char *err);
/* The KEY=VALUE parameters `fault add` takes for f's kind, direction and
 * toxicity ("ms=300 direction=upstream toxicity=0.5"; "" for a down
 * fault on every connection both ways) into buf. Returns 0, or EKL_EINVAL
 * when buf is too small or the direction is not one word. */
int proxy_fault_params(const struct proxy_fault_spec *f, char *buf, size_t len);
/* Remove the fault named name, or every fault when name is "all". */
int proxy_client_fault_remove(const char *control, const char *name, char *err);

/* One fault in force, as `fault list` reports it. */
struct proxy_fault_info {
	char name[64];
	char kind[16];
	char *routes; /* owned: "A>B,C>D" or "*" */
	unsigned ms;
	unsigned jitter_ms;
	unsigned long long rate;
	unsigned long long bytes;
	unsigned average_size;
	unsigned size_variation;
	unsigned delay_us;
	char direction[16]; /* both, upstream, downstream */
	double toxicity;
};

/* The fault's parameters in words, for people: "150 ms, jitter 10 ms",
 * "1000 B/s", "close after 4096 bytes", "pieces of 1+-0 bytes every
 * 100 us"; then ", upstream only" and ", on 50% of connections" when they
 * apply; "" for a kind without parameters acting on every connection both
 * ways. */
void proxy_fault_info_text(const struct proxy_fault_info *f, char *buf,
			   size_t len);

/* The faults in the order they were added; *out (n entries, possibly
 * NULL when n is 0) is freed with proxy_client_faults_free. */
int proxy_client_faults(const char *control, struct proxy_fault_info **out,
			size_t *n, char *err);
void proxy_client_faults_free(struct proxy_fault_info *f, size_t n);

/* One route, as `routes` reports it. */
struct proxy_route_info {
	char name[128]; /* FROM>TO */
	char listen[80];
	char target[80];
	char state[16]; /* open, blackhole, down, reset */
	unsigned long long conns;
	unsigned long long accepted;
	unsigned long long refused;
	unsigned long long to_target; /* bytes forwarded FROM -> TO */
	unsigned long long to_client; /* bytes forwarded TO -> FROM */
	unsigned latency_ms;
	unsigned jitter_ms;
	unsigned long long rate; /* 0: unlimited */
	char *faults;		 /* owned: names "a,b", "" for none */
};

int proxy_client_routes(const char *control, struct proxy_route_info **out,
			size_t *n, char *err);
void proxy_client_routes_free(struct proxy_route_info *r, size_t n);

/* Any control command; *body (text, or JSON when json) is owned by the
 * caller (ekl_free). */
int proxy_client_call(const char *control, bool json, const char *command,
		      char **body, char *err);

#endif
