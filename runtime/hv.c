/* runtime/hv.c: the registry of hypervisor drivers. Adding a driver is one
 * declaration and one table line here, plus its own hv_<name>.c. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
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

static int copy_str(struct hv_config_copy *c, const char **field, struct err *e)
{
	char *s;

	if (!*field)
		return 0;
	if (c->nr == HV_CONFIG_MAX_STRINGS)
		return err_set(e, E2BIG, "hypervisor: too many configuration strings");
	s = strdup(*field);
	if (!s)
		return err_set(e, ENOMEM, "hypervisor: out of memory");
	c->strs[c->nr++] = s;
	*field = s;
	return 0;
}

int hv_config_copy(struct hv_config_copy *c, const struct hv_config *src, struct err *e)
{
	struct hv_config *d = &c->cfg;
	const char **fields[] = {&d->id,        &d->run_dir,       &d->path,  &d->kernel,
	                         &d->initrd,    &d->kernel_params, &d->accel, &d->shared_dir,
	                         &d->virtiofsd, &d->console_log};

	c->nr = 0;
	*d = *src;
	d->cpuid_mask = NULL;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (copy_str(c, fields[i], e) < 0)
			goto fail;
	for (unsigned int i = 0; i < d->nr_disks; i++)
		if (copy_str(c, &d->disks[i].path, e) < 0)
			goto fail;
	for (unsigned int i = 0; i < d->nr_nics; i++)
		if (copy_str(c, &d->nics[i].tap_name, e) < 0)
			goto fail;
	return 0;
fail:
	hv_config_copy_free(c);
	return -1;
}

void hv_config_copy_free(struct hv_config_copy *c)
{
	for (size_t i = 0; i < c->nr; i++)
		free(c->strs[i]);
	c->nr = 0;
}
