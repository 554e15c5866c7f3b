/* lab_partition.c: partitions by shape, as link faults on the proxy. */
#include <stdio.h>
#include <string.h>

#include "ekulab/err.h"
#include "ekulab/labmodel.h"
#include "ekulab/mem.h"
#include "lab.h"
#include "lab_fault.h"

int lab_fault_partition(struct lab *l, const char *name, int argc,
			char **argv, char *err);

int lab_fault_partition(struct lab *l, const char *name, int argc,
			char **argv, char *err)
{
	(void)l;
	(void)name;
	(void)argc;
	(void)argv;
	return ekl_errf(err, EKL_EINVAL, "partition: pending the plan module");
}
