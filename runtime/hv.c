/* runtime/hv.c: the registry of hypervisor drivers. Adding a driver is one
 * declaration and one table line here, plus its own hv_<name>.c. */
#include <stddef.h>
#include <string.h>

#include "runtime/hypervisor.h"

/* Drivers: extern const struct hv_ops hv_<name>_ops; (one line each) */
extern const struct hv_ops hv_builtin_ops;

static const struct hv_ops *const drivers[] = {
        /* &hv_<name>_ops, (one line each) */
        &hv_builtin_ops,
        &hv_qemu_ops,
        NULL,
};

const struct hv_ops *hv_lookup(const char *name)
{
	for (size_t i = 0; drivers[i]; i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}
