/* agent/oci_linux.c: the "linux" object of config.json: namespaces, id
 * maps, resources, devices, sysctl, masked/readonly paths, seccomp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seccomp.h>

#include "agent/oci_internal.h"
#include "lib/util.h"

/* ---- linux ------------------------------------------------------------- */

static const char *const ns_names[OCI_NS_MAX] = {
        [OCI_NS_PID] = "pid",       [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
        [OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",         [OCI_NS_USER] = "user",
        [OCI_NS_CGROUP] = "cgroup",
};

const char *oci_ns_name(enum oci_ns_type t)
{
	return t < OCI_NS_MAX ? ns_names[t] : "?";
}

static int parse_namespaces(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *arr;
	size_t n;

	if (oci_get_array(lx, "namespaces", "linux", &arr, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		char *type = NULL, *nspath = NULL;
		int t;

		oci_idx(path, "linux.namespaces", i);
		if (!json_object_is_type(o, json_type_object))
			return oci_bad(e, path, "must be an object");
		if (oci_get_string(o, "type", path, &type, e) < 0)
			return -1;
		oci_sub(fpath, path, "type");
		if (!type)
			return oci_bad(e, fpath, "is required");
		for (t = 0; t < OCI_NS_MAX; t++)
			if (!strcmp(ns_names[t], type))
				break;
		if (t == OCI_NS_MAX) {
			err_set(e, EINVAL, "%s: unknown namespace type \"%s\"", fpath, type);
			free(type);
			return -1;
		}
		free(type);
		if (s->ns[t].present)
			return err_set(e, EINVAL, "%s: namespace \"%s\" given twice", fpath,
			               ns_names[t]);
		if (oci_get_string(o, "path", path, &nspath, e) < 0)
			return -1;
		if (nspath && nspath[0] != '/') {
			free(nspath);
			oci_sub(fpath, path, "path");
			return oci_bad(e, fpath, "must be an absolute path");
		}
		s->ns[t].present = true;
		s->ns[t].path = nspath;
	}
	return 0;
}

static int parse_idmaps(struct json_object *lx, const char *key, struct oci_idmap **out, size_t *nr,
                        struct err *e)
{
	struct json_object *arr;
	char base[PATH_MAX_FIELD];
	size_t n;

	if (oci_get_array(lx, key, "linux", &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	oci_sub(base, "linux", key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char path[PATH_MAX_FIELD];

		oci_idx(path, base, i);
		if (!json_object_is_type(o, json_type_object))
			return oci_bad(e, path, "must be an object");
		if (oci_get_u32(o, "containerID", path, &(*out)[i].container_id, false, e) < 0 ||
		    oci_get_u32(o, "hostID", path, &(*out)[i].host_id, false, e) < 0 ||
		    oci_get_u32(o, "size", path, &(*out)[i].size, true, e) < 0)
			return -1;
		(*nr)++;
	}
	return 0;
}

static int parse_dev_rules(struct json_object *res, const char *where, struct oci_resources *r,
                           struct err *e)
{
	struct json_object *arr;
	char base[PATH_MAX_FIELD];
	size_t n;

	if (oci_get_array(res, "devices", where, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	r->devices = calloc(n, sizeof(*r->devices));
	if (!r->devices)
		return err_set(e, ENOMEM, "out of memory");
	oci_sub(base, where, "devices");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct oci_dev_rule *d = &r->devices[i];
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		char *type = NULL, *access = NULL;

		oci_idx(path, base, i);
		if (!json_object_is_type(o, json_type_object))
			return oci_bad(e, path, "must be an object");
		d->major = d->minor = -1;
		d->type = 'a';
		strcpy(d->access, "rwm");
		if (oci_get_bool(o, "allow", path, &d->allow, e) < 0 ||
		    oci_get_int64(o, "major", path, &d->major, e) < 0 ||
		    oci_get_int64(o, "minor", path, &d->minor, e) < 0 ||
		    oci_get_string(o, "type", path, &type, e) < 0 ||
		    oci_get_string(o, "access", path, &access, e) < 0) {
			free(type);
			return -1;
		}
		r->nr_devices++;
		if (type) {
			bool ok = strlen(type) == 1 && strchr("acb", type[0]);

			d->type = type[0];
			free(type);
			if (!ok) {
				free(access);
				oci_sub(fpath, path, "type");
				return oci_bad(e, fpath, "must be \"a\", \"c\" or \"b\"");
			}
		}
		if (access) {
			bool ok = strlen(access) <= 3 && strspn(access, "rwm") == strlen(access);

			if (ok && access[0])
				strcpy(d->access, access);
			free(access);
			if (!ok) {
				oci_sub(fpath, path, "access");
				return oci_bad(e, fpath,
				               "must be a combination of \"r\", \"w\" and \"m\"");
			}
		}
	}
	return 0;
}

static void resources_init(struct oci_resources *r)
{
	memset(r, 0, sizeof(*r));
	r->mem_limit = r->mem_reservation = r->mem_swap = OCI_UNSET;
	r->cpu_shares = r->cpu_quota = r->cpu_period = OCI_UNSET;
	r->pids_limit = OCI_UNSET;
}

void oci_resources_clear(struct oci_resources *r)
{
	free(r->cpus);
	free(r->mems);
	free(r->devices);
	resources_init(r);
}

int oci_resources_parse(struct json_object *res, const char *where, struct oci_resources *r,
                        struct err *e)
{
	struct json_object *mem, *cpu, *pids;
	char path[PATH_MAX_FIELD];

	resources_init(r);
	if (!res)
		return 0;
	if (!json_object_is_type(res, json_type_object))
		return oci_bad(e, where, "must be an object");
	if (oci_get_object(res, "memory", where, &mem, e) < 0 ||
	    oci_get_object(res, "cpu", where, &cpu, e) < 0 ||
	    oci_get_object(res, "pids", where, &pids, e) < 0)
		return -1;
	if (mem) {
		oci_sub(path, where, "memory");
		if (oci_get_int64(mem, "limit", path, &r->mem_limit, e) < 0 ||
		    oci_get_int64(mem, "reservation", path, &r->mem_reservation, e) < 0 ||
		    oci_get_int64(mem, "swap", path, &r->mem_swap, e) < 0)
			return -1;
		if (r->mem_limit != OCI_UNSET && r->mem_limit < -1) {
			char fpath[PATH_MAX_FIELD];

			oci_sub(fpath, path, "limit");
			return oci_bad(e, fpath, "must be -1 (unlimited) or a byte count");
		}
	}
	if (cpu) {
		oci_sub(path, where, "cpu");
		if (oci_get_int64(cpu, "shares", path, &r->cpu_shares, e) < 0 ||
		    oci_get_int64(cpu, "quota", path, &r->cpu_quota, e) < 0 ||
		    oci_get_int64(cpu, "period", path, &r->cpu_period, e) < 0 ||
		    oci_get_string(cpu, "cpus", path, &r->cpus, e) < 0 ||
		    oci_get_string(cpu, "mems", path, &r->mems, e) < 0)
			return -1;
		if (r->cpu_period != OCI_UNSET && r->cpu_period < 0) {
			char fpath[PATH_MAX_FIELD];

			oci_sub(fpath, path, "period");
			return oci_bad(e, fpath, "must not be negative");
		}
	}
	if (pids) {
		oci_sub(path, where, "pids");
		if (oci_get_int64(pids, "limit", path, &r->pids_limit, e) < 0)
			return -1;
	}
	return parse_dev_rules(res, where, r, e);
}

static int parse_devices(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *arr;
	size_t n;

	if (oci_get_array(lx, "devices", "linux", &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	s->devices = calloc(n, sizeof(*s->devices));
	if (!s->devices)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct oci_device *d = &s->devices[i];
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		char *type = NULL;
		uint32_t v = 0;

		oci_idx(path, "linux.devices", i);
		if (!json_object_is_type(o, json_type_object))
			return oci_bad(e, path, "must be an object");
		s->nr_devices++;
		if (oci_get_string(o, "path", path, &d->path, e) < 0 ||
		    oci_get_string(o, "type", path, &type, e) < 0)
			return -1;
		oci_sub(fpath, path, "path");
		if (!d->path || d->path[0] != '/') {
			free(type);
			return oci_bad(e, fpath, "must be an absolute path");
		}
		oci_sub(fpath, path, "type");
		if (!type || strlen(type) != 1 || !strchr("cbup", type[0])) {
			free(type);
			return oci_bad(e, fpath, "must be \"c\", \"b\", \"u\" or \"p\"");
		}
		d->type = type[0];
		free(type);
		d->major = d->minor = 0;
		if (d->type != 'p' && !oci_get(o, "major")) {
			oci_sub(fpath, path, "major");
			return oci_bad(e, fpath, "is required for a character or block device");
		}
		if (oci_get_int64(o, "major", path, &d->major, e) < 0 ||
		    oci_get_int64(o, "minor", path, &d->minor, e) < 0)
			return -1;
		if (oci_get(o, "fileMode")) {
			if (oci_get_u32(o, "fileMode", path, &v, false, e) < 0)
				return -1;
			d->has_mode = true;
			d->mode = v & 07777;
		}
		v = 0;
		if (oci_get_u32(o, "uid", path, &v, false, e) < 0)
			return -1;
		d->uid = v;
		v = 0;
		if (oci_get_u32(o, "gid", path, &v, false, e) < 0)
			return -1;
		d->gid = v;
	}
	return 0;
}

static int parse_sysctl(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *o;
	size_t n, i = 0;

	if (oci_get_object(lx, "sysctl", "linux", &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	n = (size_t)json_object_object_length(o);
	s->sysctl_keys = calloc(n + 1, sizeof(char *));
	s->sysctl_values = calloc(n + 1, sizeof(char *));
	if (!s->sysctl_keys || !s->sysctl_values)
		return err_set(e, ENOMEM, "out of memory");
	json_object_object_foreach(o, key, val)
	{
		char path[PATH_MAX_FIELD];

		oci_sub(path, "linux.sysctl", key);
		if (!json_object_is_type(val, json_type_string))
			return oci_bad(e, path, "must be a string");
		if (!key[0] || strstr(key, "..") || key[0] == '.' || strchr(key, '/'))
			return oci_bad(e, path, "is not a valid sysctl name");
		s->sysctl_keys[i] = strdup(key);
		s->sysctl_values[i] = strdup(json_object_get_string(val));
		s->nr_sysctl = ++i;
		if (!s->sysctl_keys[i - 1] || !s->sysctl_values[i - 1])
			return err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- seccomp ----------------------------------------------------------- */

static int seccomp_action(const char *name, int64_t errno_ret, uint32_t *out)
{
	int ret = errno_ret == OCI_UNSET ? EPERM : (int)errno_ret;

	if (!strcmp(name, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(name, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO(ret);
	else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(name, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(name, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE(ret);
	else if (!strcmp(name, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else
		return -1;
	return 0;
}

static const struct {
	const char *name;
	int op;
} seccomp_ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE},
        {"SCMP_CMP_LT", SCMP_CMP_LT},
        {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ},
        {"SCMP_CMP_GE", SCMP_CMP_GE},
        {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static int parse_action(struct json_object *o, const char *where, const char *key, uint32_t *out,
                        struct err *e)
{
	char path[PATH_MAX_FIELD];
	char *name = NULL;
	int64_t ret = OCI_UNSET;

	if (oci_get_string(o, key, where, &name, e) < 0)
		return -1;
	if (oci_get_int64(o, !strcmp(key, "action") ? "errnoRet" : "defaultErrnoRet", where, &ret,
	                  e) < 0) {
		free(name);
		return -1;
	}
	oci_sub(path, where, key);
	if (!name)
		return oci_bad(e, path, "is required");
	if (seccomp_action(name, ret, out) < 0) {
		err_set(e, EINVAL, "%s: unsupported action \"%s\"", path, name);
		free(name);
		return -1;
	}
	free(name);
	return 0;
}

static int parse_seccomp_args(struct json_object *o, const char *where, struct oci_seccomp_rule *r,
                              struct err *e)
{
	struct json_object *arr;
	char base[PATH_MAX_FIELD];
	size_t n;

	if (oci_get_array(o, "args", where, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	r->args = calloc(n, sizeof(*r->args));
	if (!r->args)
		return err_set(e, ENOMEM, "out of memory");
	oci_sub(base, where, "args");
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);
		struct oci_seccomp_arg *sa = &r->args[i];
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		struct json_object *v;
		char *op = NULL;
		uint32_t index = 0;
		size_t k;

		oci_idx(path, base, i);
		if (!json_object_is_type(a, json_type_object))
			return oci_bad(e, path, "must be an object");
		if (oci_get_u32(a, "index", path, &index, false, e) < 0)
			return -1;
		if (index > 5) {
			oci_sub(fpath, path, "index");
			return oci_bad(e, fpath, "must be between 0 and 5");
		}
		sa->index = index;
		v = oci_get(a, "value");
		oci_sub(fpath, path, "value");
		if (v && oci_as_uint64(v, fpath, &sa->value, e) < 0)
			return -1;
		v = oci_get(a, "valueTwo");
		oci_sub(fpath, path, "valueTwo");
		if (v && oci_as_uint64(v, fpath, &sa->value_two, e) < 0)
			return -1;
		if (oci_get_string(a, "op", path, &op, e) < 0)
			return -1;
		oci_sub(fpath, path, "op");
		if (!op)
			return oci_bad(e, fpath, "is required");
		for (k = 0; k < ARRAY_SIZE(seccomp_ops); k++)
			if (!strcmp(seccomp_ops[k].name, op))
				break;
		if (k == ARRAY_SIZE(seccomp_ops)) {
			err_set(e, EINVAL, "%s: unknown operator \"%s\"", fpath, op);
			free(op);
			return -1;
		}
		free(op);
		sa->op = seccomp_ops[k].op;
		r->nr_args++;
	}
	return 0;
}

static int parse_seccomp(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *o, *arr;
	struct oci_seccomp *sc;
	char **archs;
	size_t n;

	if (oci_get_object(lx, "seccomp", "linux", &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	sc = s->seccomp = calloc(1, sizeof(*sc));
	if (!sc)
		return err_set(e, ENOMEM, "out of memory");
	if (parse_action(o, "linux.seccomp", "defaultAction", &sc->default_action, e) < 0)
		return -1;
	if (oci_get_strv(o, "architectures", "linux.seccomp", false, &archs, &n, e) < 0)
		return -1;
	if (n) {
		sc->archs = calloc(n, sizeof(*sc->archs));
		if (!sc->archs) {
			oci_strv_free(archs);
			return err_set(e, ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = archs[i];
		uint32_t a;

		if (!strncmp(name, "SCMP_ARCH_", 10))
			name += 10;
		{
			char lower[64];
			size_t k;

			for (k = 0; name[k] && k < sizeof(lower) - 1; k++)
				lower[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32
				                                                   : name[k]);
			lower[k] = '\0';
			a = seccomp_arch_resolve_name(lower);
		}
		if (!a) {
			err_set(e, EINVAL,
			        "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
			        archs[i]);
			oci_strv_free(archs);
			return -1;
		}
		sc->archs[sc->nr_archs++] = a;
	}
	oci_strv_free(archs);
	if (oci_get_array(o, "syscalls", "linux.seccomp", &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	sc->rules = calloc(n, sizeof(*sc->rules));
	if (!sc->rules)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		struct oci_seccomp_rule *rule = &sc->rules[i];
		char path[PATH_MAX_FIELD];

		oci_idx(path, "linux.seccomp.syscalls", i);
		if (!json_object_is_type(r, json_type_object))
			return oci_bad(e, path, "must be an object");
		sc->nr_rules++;
		if (oci_get_strv(r, "names", path, true, &rule->names, &rule->nr_names, e) < 0 ||
		    parse_action(r, path, "action", &rule->action, e) < 0 ||
		    parse_seccomp_args(r, path, rule, e) < 0)
			return -1;
	}
	return 0;
}

void oci_seccomp_free(struct oci_seccomp *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->nr_rules; i++) {
		oci_strv_free(sc->rules[i].names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
	free(sc->archs);
	free(sc);
}

int oci_parse_linux(struct json_object *root, struct oci_spec *s, struct err *e)
{
	struct json_object *lx, *res;

	resources_init(&s->resources);
	if (oci_get_object(root, "linux", "", &lx, e) < 0)
		return -1;
	if (!lx)
		return 0;
	if (parse_namespaces(lx, s, e) < 0 ||
	    parse_idmaps(lx, "uidMappings", &s->uid_mappings, &s->nr_uid_mappings, e) < 0 ||
	    parse_idmaps(lx, "gidMappings", &s->gid_mappings, &s->nr_gid_mappings, e) < 0)
		return -1;
	if (oci_get_object(lx, "resources", "linux", &res, e) < 0 ||
	    oci_resources_parse(res, "linux.resources", &s->resources, e) < 0)
		return -1;
	if (oci_get_string(lx, "cgroupsPath", "linux", &s->cgroups_path, e) < 0 ||
	    parse_sysctl(lx, s, e) < 0 ||
	    oci_get_strv(lx, "maskedPaths", "linux", false, &s->masked_paths, &s->nr_masked_paths,
	                 e) < 0 ||
	    oci_get_strv(lx, "readonlyPaths", "linux", false, &s->readonly_paths,
	                 &s->nr_readonly_paths, e) < 0 ||
	    parse_seccomp(lx, s, e) < 0 || parse_devices(lx, s, e) < 0)
		return -1;
	if (s->ns[OCI_NS_USER].present && !s->ns[OCI_NS_USER].path &&
	    (!s->nr_uid_mappings || !s->nr_gid_mappings))
		return oci_bad(e, "linux.uidMappings",
		               "a new user namespace needs uidMappings and gidMappings");
	return 0;
}
