/* yamlfile.c: read a one-document YAML file with libyaml. */
#include "yamlfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ekulab/core/err.h"

static int open_file(const char *path, const char *kind, FILE **fp, char *err)
{
	struct stat st;
	int en;

	*fp = fopen(path, "rb");
	if (*fp == NULL) {
		en = errno;
		if (en == ENOENT)
			return ekl_errf(err, EKL_ENOENT,
					"%s '%s': no such file; check the path",
					kind, path);
		if (en == EACCES)
			return ekl_errf(err, EKL_EPERM,
					"%s '%s': permission denied", kind,
					path);
		return ekl_errf(err, EKL_EIO, "%s '%s': %s", kind, path,
				strerror(en));
	}
	if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(*fp);
		*fp = NULL;
		return ekl_errf(err, EKL_EIO, "%s '%s': not a regular file",
				kind, path);
	}
	return 0;
}

int yamlfile_load(const char *path, const char *kind,
		  int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		  char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_document_t extra;
	FILE *fp;
	int rc;

	if ((rc = open_file(path, kind, &fp, err)) != 0)
		return rc;
	if (!yaml_parser_initialize(&parser)) {
		rc = ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", kind,
			      path);
		goto err_after_open;
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = ekl_errf(
		    err, EKL_ECONFIG, "%s:%zu:%zu: YAML syntax error: %s%s%s",
		    path, parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "unreadable",
		    parser.context != NULL ? " " : "",
		    parser.context != NULL ? parser.context : "");
		goto err_after_parser;
	}
	rc = walk(arg, &doc);
	if (rc == 0) {
		/* One document only: a second one would be ignored. */
		if (!yaml_parser_load(&parser, &extra)) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%zu:%zu: YAML syntax error: %s", path,
				      parser.problem_mark.line + 1,
				      parser.problem_mark.column + 1,
				      parser.problem != NULL ? parser.problem
							     : "unreadable");
		} else {
			yaml_node_t *r = yaml_document_get_root_node(&extra);

			if (r != NULL)
				rc = ekl_errf(err, EKL_ECONFIG,
					      "%s:%zu:%zu: a second YAML "
					      "document; a %s is one document "
					      "(remove the ---)",
					      path, r->start_mark.line + 1,
					      r->start_mark.column + 1, kind);
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
err_after_parser:
	yaml_parser_delete(&parser);
err_after_open:
	fclose(fp);
	return rc;
}
