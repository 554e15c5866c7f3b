/* yamlfile.h: read a one-document YAML file (topologies, plans) with
 * libyaml: open it, parse its document, hand it to a walker, then refuse a
 * second document. */
#ifndef EKULAB_YAMLFILE_H
#define EKULAB_YAMLFILE_H

#include <yaml.h>

/* kind names the file in messages ("topology", "plan"): "KIND 'PATH': no
 * such file", "PATH:LINE:COL: YAML syntax error: ...", "a second YAML
 * document; a KIND is one document". walk's return is returned; the
 * document is freed after it. Returns 0, EKL_ENOENT / EKL_EPERM / EKL_EIO
 * (the file), EKL_ENOMEM, EKL_ECONFIG, or walk's code. */
int yamlfile_load(const char *path, const char *kind,
		  int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		  char *err);

#endif
