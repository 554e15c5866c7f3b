/* yamlfile.h: read a one-document YAML file (topologies, plans) with
 * libyaml: open it, check its size and nesting, parse its document, check
 * its scalars, hand it to a walker, then refuse a second document. */
#ifndef EKULAB_YAMLFILE_H
#define EKULAB_YAMLFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

/* Limits checked before the document is built. libyaml's scanner is
 * quadratic in the nesting depth of flow collections (100 000 levels took
 * 42 s), and nothing we read nests more than a few levels. */
#define YAMLFILE_MAX_BYTES (4u << 20) /* 4 MiB */
#define YAMLFILE_MAX_DEPTH 64	      /* mappings and sequences */

/* kind names the file in messages ("topology", "plan"): "KIND 'PATH': no
 * such file", "PATH:LINE:COL: YAML syntax error: ...", "a second YAML
 * document; a KIND is one document". Never blocks on a non-regular file
 * (a FIFO, a device): it is refused. A file over YAMLFILE_MAX_BYTES, a
 * document nested deeper than YAMLFILE_MAX_DEPTH, and a scalar holding a
 * NUL character (a "\0" or "\u0000" escape: the value would be cut there)
 * are refused (EKL_ECONFIG) with the limit and what to do. walk's return
 * is returned; the document is freed after it. Returns 0, EKL_ENOENT /
 * EKL_EPERM / EKL_EIO (the file), EKL_ENOMEM, EKL_ECONFIG, or walk's
 * code. */
int yamlfile_load(const char *path, const char *kind,
		  int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		  char *err);

/* The same on len bytes at buf (not copied, not kept), which messages
 * call `name`. */
int yamlfile_load_mem(const char *name, const void *buf, size_t len,
		      const char *kind,
		      int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		      char *err);

/* Check that every key of mapping `map` (in doc) is a scalar among
 * `allowed` (NULL-terminated) and appears once; `kp` is the mapping's
 * dotted key path ("" at the top). true when so; otherwise false with
 * *at the node to blame, key (keylen bytes, cut when too long) the key
 * path to name ("(top)" for a bad key at the top) and msg (msglen bytes)
 * what is wrong: "keys must be plain names", "unknown key; expected one
 * of: ...", "duplicate key (first at line N)". The walker reports it
 * with its own located message. */
bool yamlfile_check_keys(yaml_document_t *doc, const yaml_node_t *map,
			 const char *kp, const char *const *allowed,
			 const yaml_node_t **at, char *key, size_t keylen,
			 char *msg, size_t msglen);

#endif
