/* agent/oci.c: OCI runtime-spec config.json -> struct oci_spec, with every
 * rejected value reported by its field path ("linux.resources.memory.limit"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <seccomp.h>

#include "agent/oci.h"
#include "lib/util.h"

#define PATH_MAX_FIELD 256

static int bad(struct err *e, const char *path, const char *why)
{
	return err_set(e, EINVAL, "%s: %s", path, why);
}

/* Field paths longer than PATH_MAX_FIELD are cut short on purpose: they
 * only label error messages. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
static void sub(char *out, const char *parent, const char *name)
{
	if (parent[0])
		snprintf(out, PATH_MAX_FIELD, "%s.%s", parent, name);
	else
		snprintf(out, PATH_MAX_FIELD, "%s", name);
}

static void idx(char *out, const char *parent, size_t i)
{
	snprintf(out, PATH_MAX_FIELD, "%s[%zu]", parent, i);
}
#pragma GCC diagnostic pop

/* Field lookup: NULL when absent or JSON null. */
static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int get_string(struct json_object *o, const char *key, const char *where, char **out,
                      struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	*out = NULL;
	if (!v)
		return 0;
	sub(path, where, key);
	if (!json_object_is_type(v, json_type_string))
		return bad(e, path, "must be a string");
	*out = strdup(json_object_get_string(v));
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	return 0;
}

static int get_bool(struct json_object *o, const char *key, const char *where, bool *out,
                    struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	if (!v)
		return 0;
	sub(path, where, key);
	if (!json_object_is_type(v, json_type_boolean))
		return bad(e, path, "must be a boolean");
	*out = json_object_get_boolean(v);
	return 0;
}

/* Integers: json-c keeps int64 and uint64; range checks are the caller's. */
static int as_int64(struct json_object *v, const char *path, int64_t *out, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return bad(e, path, "must be an integer");
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno == EINVAL)
		return bad(e, path, "must be an integer");
	return 0;
}

static int as_uint64(struct json_object *v, const char *path, uint64_t *out, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return bad(e, path, "must be an integer");
	if (json_object_get_int64(v) < 0)
		return bad(e, path, "must not be negative");
	*out = json_object_get_uint64(v);
	return 0;
}

static int get_int64(struct json_object *o, const char *key, const char *where, int64_t *out,
                     struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	if (!v)
		return 0;
	sub(path, where, key);
	return as_int64(v, path, out, e);
}

static int get_u32(struct json_object *o, const char *key, const char *where, uint32_t *out,
                   bool required, struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];
	uint64_t u;

	sub(path, where, key);
	if (!v)
		return required ? bad(e, path, "is required") : 0;
	if (as_uint64(v, path, &u, e) < 0)
		return -1;
	if (u > UINT32_MAX)
		return bad(e, path, "out of range");
	*out = (uint32_t)u;
	return 0;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* A JSON array of strings -> NULL-terminated vector; absent -> NULL. */
static int get_strv(struct json_object *o, const char *key, const char *where, bool nonempty,
                    char ***out, size_t *nr, struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];
	char **vec;
	size_t n;

	*out = NULL;
	if (nr)
		*nr = 0;
	sub(path, where, key);
	if (!v)
		return nonempty ? bad(e, path, "must be a non-empty array of strings") : 0;
	if (!json_object_is_type(v, json_type_array))
		return bad(e, path,
		           nonempty ? "must be a non-empty array of strings"
		                    : "must be an array of strings");
	n = json_object_array_length(v);
	if (nonempty && n == 0)
		return bad(e, path, "must be a non-empty array of strings");
	vec = calloc(n + 1, sizeof(*vec));
	if (!vec)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(v, i);

		if (!json_object_is_type(s, json_type_string)) {
			char ipath[PATH_MAX_FIELD];

			strv_free(vec);
			idx(ipath, path, i);
			return bad(e, ipath, "must be a string");
		}
		vec[i] = strdup(json_object_get_string(s));
		if (!vec[i]) {
			strv_free(vec);
			return err_set(e, ENOMEM, "out of memory");
		}
	}
	*out = vec;
	if (nr)
		*nr = n;
	return 0;
}

/* Array field that must be an array when present; *n = 0 when absent. */
static int get_array(struct json_object *o, const char *key, const char *where,
                     struct json_object **arr, size_t *n, struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	*arr = NULL;
	*n = 0;
	if (!v)
		return 0;
	sub(path, where, key);
	if (!json_object_is_type(v, json_type_array))
		return bad(e, path, "must be an array");
	*arr = v;
	*n = json_object_array_length(v);
	return 0;
}

static int get_object(struct json_object *o, const char *key, const char *where,
                      struct json_object **out, struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	*out = NULL;
	if (!v)
		return 0;
	sub(path, where, key);
	if (!json_object_is_type(v, json_type_object))
		return bad(e, path, "must be an object");
	*out = v;
	return 0;
}

/* ---- process ----------------------------------------------------------- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
        {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
};

static int parse_rlimits(struct json_object *o, const char *where, struct oci_process *p,
                         struct err *e)
{
	struct json_object *arr;
	char path[PATH_MAX_FIELD];
	size_t n;

	if (get_array(o, "rlimits", where, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	p->rlimits = calloc(n, sizeof(*p->rlimits));
	if (!p->rlimits)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		struct json_object *v;
		const char *type;
		char base[PATH_MAX_FIELD];
		size_t k;

		sub(base, where, "rlimits");
		idx(path, base, i);
		if (!json_object_is_type(r, json_type_object))
			return bad(e, path, "must be an object");
		v = get(r, "type");
		sub(base, path, "type");
		if (!v || !json_object_is_type(v, json_type_string))
			return bad(e, base, "must be a string naming an RLIMIT_*");
		type = json_object_get_string(v);
		for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (!strcmp(rlimit_names[k].name, type))
				break;
		if (k == ARRAY_SIZE(rlimit_names))
			return err_set(e, EINVAL, "%s: unknown rlimit \"%s\"", base, type);
		p->rlimits[i].resource = rlimit_names[k].resource;
		for (int j = 0; j < 2; j++) {
			const char *key = j ? "hard" : "soft";
			uint64_t *dst = j ? &p->rlimits[i].hard : &p->rlimits[i].soft;

			v = get(r, key);
			sub(base, path, key);
			if (!v)
				return bad(e, base, "is required");
			if (as_uint64(v, base, dst, e) < 0)
				return -1;
		}
		p->nr_rlimits++;
	}
	return 0;
}

/* Capability names the running libcap does not know are skipped, as runc
 * does, so a newer spec runs on an older kernel. */
static int parse_capset(struct json_object *caps, const char *where, const char *key,
                        uint64_t *mask, struct err *e)
{
	char **names;
	size_t n;

	if (get_strv(caps, key, where, false, &names, &n, e) < 0)
		return -1;
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		cap_value_t c;

		if (cap_from_name(names[i], &c) == 0 && c >= 0 && c < 64)
			*mask |= 1ull << c;
	}
	strv_free(names);
	return 0;
}

static int parse_user(struct json_object *o, const char *where, struct oci_process *p,
                      struct err *e)
{
	struct json_object *u, *arr;
	char path[PATH_MAX_FIELD], ipath[PATH_MAX_FIELD];
	uint32_t v32;
	size_t n;

	if (get_object(o, "user", where, &u, e) < 0)
		return -1;
	if (!u)
		return 0;
	sub(path, where, "user");
	if (get_u32(u, "uid", path, &v32, false, e) < 0)
		return -1;
	p->uid = v32;
	v32 = 0;
	if (get_u32(u, "gid", path, &v32, false, e) < 0)
		return -1;
	p->gid = v32;
	if (get(u, "umask")) {
		if (get_u32(u, "umask", path, &v32, false, e) < 0)
			return -1;
		if (v32 > 0777) {
			sub(ipath, path, "umask");
			return bad(e, ipath, "out of range");
		}
		p->umask = (int)v32;
	}
	if (get_array(u, "additionalGids", path, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	p->additional_gids = calloc(n, sizeof(gid_t));
	if (!p->additional_gids)
		return err_set(e, ENOMEM, "out of memory");
	sub(ipath, path, "additionalGids");
	for (size_t i = 0; i < n; i++) {
		char gpath[PATH_MAX_FIELD];
		uint64_t g;

		idx(gpath, ipath, i);
		if (as_uint64(json_object_array_get_idx(arr, i), gpath, &g, e) < 0)
			return -1;
		if (g > UINT32_MAX)
			return bad(e, gpath, "out of range");
		p->additional_gids[p->nr_additional_gids++] = (gid_t)g;
	}
	return 0;
}

static int parse_process_fields(struct json_object *o, const char *where, struct oci_process *p,
                                struct err *e)
{
	struct json_object *v;
	char path[PATH_MAX_FIELD];
	int64_t i64;

	if (get_strv(o, "args", where, true, &p->args, NULL, e) < 0)
		return -1;
	if (get_strv(o, "env", where, false, &p->env, NULL, e) < 0)
		return -1;
	if (!p->env) {
		p->env = calloc(1, sizeof(char *));
		if (!p->env)
			return err_set(e, ENOMEM, "out of memory");
	}
	if (get_string(o, "cwd", where, &p->cwd, e) < 0)
		return -1;
	sub(path, where, "cwd");
	if (!p->cwd || p->cwd[0] != '/')
		return bad(e, path, "must be an absolute path");
	if (get_bool(o, "terminal", where, &p->terminal, e) < 0)
		return -1;
	if (get_object(o, "consoleSize", where, &v, e) < 0)
		return -1;
	if (v) {
		uint32_t h = 0, w = 0;

		sub(path, where, "consoleSize");
		if (get_u32(v, "height", path, &h, true, e) < 0 ||
		    get_u32(v, "width", path, &w, true, e) < 0)
			return -1;
		p->console_height = h;
		p->console_width = w;
	}
	if (parse_user(o, where, p, e) < 0)
		return -1;
	if (parse_rlimits(o, where, p, e) < 0)
		return -1;
	if (get_object(o, "capabilities", where, &v, e) < 0)
		return -1;
	if (v) {
		sub(path, where, "capabilities");
		p->has_caps = true;
		if (parse_capset(v, path, "bounding", &p->caps.bounding, e) < 0 ||
		    parse_capset(v, path, "effective", &p->caps.effective, e) < 0 ||
		    parse_capset(v, path, "inheritable", &p->caps.inheritable, e) < 0 ||
		    parse_capset(v, path, "permitted", &p->caps.permitted, e) < 0 ||
		    parse_capset(v, path, "ambient", &p->caps.ambient, e) < 0)
			return -1;
	}
	if (get_bool(o, "noNewPrivileges", where, &p->no_new_privileges, e) < 0)
		return -1;
	if (get(o, "oomScoreAdj")) {
		if (get_int64(o, "oomScoreAdj", where, &i64, e) < 0)
			return -1;
		if (i64 < -1000 || i64 > 1000) {
			sub(path, where, "oomScoreAdj");
			return bad(e, path, "must be between -1000 and 1000");
		}
		p->has_oom_score_adj = true;
		p->oom_score_adj = (int)i64;
	}
	return 0;
}

int oci_process_parse(struct json_object *obj, const char *where, struct oci_process **out,
                      struct err *e)
{
	struct oci_process *p;

	if (!json_object_is_type(obj, json_type_object))
		return bad(e, where, "must be an object");
	p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, ENOMEM, "out of memory");
	p->umask = -1;
	if (parse_process_fields(obj, where, p, e) < 0) {
		oci_process_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

static struct json_object *parse_text(const char *text, struct err *e)
{
	enum json_tokener_error jerr;
	struct json_object *o = json_tokener_parse_verbose(text, &jerr);

	if (!o)
		err_set(e, EINVAL, "invalid JSON: %s", json_tokener_error_desc(jerr));
	return o;
}

int oci_process_parse_string(const char *json, struct oci_process **out, struct err *e)
{
	struct json_object *o = parse_text(json, e);
	int r;

	if (!o)
		return -1;
	r = oci_process_parse(o, "process", out, e);
	json_object_put(o);
	return r;
}

void oci_process_free(struct oci_process *p)
{
	if (!p)
		return;
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->additional_gids);
	free(p->rlimits);
	free(p);
}

/* ---- mounts ------------------------------------------------------------ */

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
        {"ro", false, MS_RDONLY},
        {"rw", true, MS_RDONLY},
        {"nosuid", false, MS_NOSUID},
        {"suid", true, MS_NOSUID},
        {"nodev", false, MS_NODEV},
        {"dev", true, MS_NODEV},
        {"noexec", false, MS_NOEXEC},
        {"exec", true, MS_NOEXEC},
        {"sync", false, MS_SYNCHRONOUS},
        {"async", true, MS_SYNCHRONOUS},
        {"dirsync", false, MS_DIRSYNC},
        {"remount", false, MS_REMOUNT},
        {"mand", false, MS_MANDLOCK},
        {"nomand", true, MS_MANDLOCK},
        {"atime", true, MS_NOATIME},
        {"noatime", false, MS_NOATIME},
        {"diratime", true, MS_NODIRATIME},
        {"nodiratime", false, MS_NODIRATIME},
        {"relatime", false, MS_RELATIME},
        {"norelatime", true, MS_RELATIME},
        {"strictatime", false, MS_STRICTATIME},
        {"nostrictatime", true, MS_STRICTATIME},
        {"bind", false, MS_BIND},
        {"rbind", false, MS_BIND | MS_REC},
};

static const struct {
	const char *name;
	unsigned long flag;
} propagation_flags[] = {
        {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
        {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
        {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
        {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int add_option(const char *opt, unsigned long *flags, unsigned long *prop, char **data,
                      struct err *e)
{
	for (size_t k = 0; k < ARRAY_SIZE(mount_flags); k++) {
		if (strcmp(mount_flags[k].name, opt))
			continue;
		if (mount_flags[k].clear)
			*flags &= ~mount_flags[k].flag;
		else
			*flags |= mount_flags[k].flag;
		return 0;
	}
	for (size_t k = 0; k < ARRAY_SIZE(propagation_flags); k++) {
		if (!strcmp(propagation_flags[k].name, opt)) {
			*prop = propagation_flags[k].flag;
			return 0;
		}
	}
	/* Anything else is for the filesystem (size=, mode=, lowerdir=...). */
	{
		size_t old = *data ? strlen(*data) : 0;
		char *n = realloc(*data, old + strlen(opt) + 2);

		if (!n)
			return err_set(e, ENOMEM, "out of memory");
		if (old)
			n[old++] = ',';
		strcpy(n + old, opt);
		*data = n;
	}
	return 0;
}

int oci_mount_options_strv(char *const *opts, size_t n, unsigned long *flags,
                           unsigned long *propagation, char **data, struct err *e)
{
	*flags = 0;
	*propagation = 0;
	*data = NULL;
	for (size_t i = 0; i < n; i++) {
		if (add_option(opts[i], flags, propagation, data, e) < 0) {
			free(*data);
			*data = NULL;
			return -1;
		}
	}
	return 0;
}

int oci_mount_options(struct json_object *opts, const char *where, unsigned long *flags,
                      unsigned long *propagation, char **data, struct err *e)
{
	char **v = NULL;
	size_t n = 0;
	int r;

	*flags = 0;
	*propagation = 0;
	*data = NULL;
	if (!opts)
		return 0;
	if (!json_object_is_type(opts, json_type_array))
		return bad(e, where, "must be an array of strings");
	n = json_object_array_length(opts);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(opts, i);

		if (!json_object_is_type(s, json_type_string)) {
			char ipath[PATH_MAX_FIELD];

			free(v);
			idx(ipath, where, i);
			return bad(e, ipath, "must be a string");
		}
		v[i] = (char *)json_object_get_string(s);
	}
	r = oci_mount_options_strv(v, n, flags, propagation, data, e);
	free(v);
	return r;
}

static int parse_mounts(struct json_object *root, struct oci_spec *s, struct err *e)
{
	struct json_object *arr;
	size_t n;

	if (get_array(root, "mounts", "", &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	s->mounts = calloc(n, sizeof(*s->mounts));
	if (!s->mounts)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(arr, i);
		struct oci_mount *om = &s->mounts[i];
		char path[PATH_MAX_FIELD], opath[PATH_MAX_FIELD];

		idx(path, "mounts", i);
		s->nr_mounts++;
		if (!json_object_is_type(m, json_type_object))
			return bad(e, path, "must be an object");
		if (get_string(m, "destination", path, &om->destination, e) < 0 ||
		    get_string(m, "type", path, &om->type, e) < 0 ||
		    get_string(m, "source", path, &om->source, e) < 0)
			return -1;
		sub(opath, path, "destination");
		if (!om->destination || om->destination[0] != '/')
			return bad(e, opath, "must be an absolute path");
		sub(opath, path, "options");
		if (oci_mount_options(get(m, "options"), opath, &om->flags, &om->propagation,
		                      &om->data, e) < 0)
			return -1;
		if (om->type && !strcmp(om->type, "bind"))
			om->flags |= MS_BIND;
		if (!(om->flags & MS_BIND) && !om->type) {
			sub(opath, path, "type");
			return bad(e, opath, "is required for a mount that is not a bind mount");
		}
		if ((om->flags & MS_BIND) && !om->source) {
			sub(opath, path, "source");
			return bad(e, opath, "is required for a bind mount");
		}
	}
	return 0;
}

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

	if (get_array(lx, "namespaces", "linux", &arr, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		char *type = NULL, *nspath = NULL;
		int t;

		idx(path, "linux.namespaces", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(e, path, "must be an object");
		if (get_string(o, "type", path, &type, e) < 0)
			return -1;
		sub(fpath, path, "type");
		if (!type)
			return bad(e, fpath, "is required");
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
		if (get_string(o, "path", path, &nspath, e) < 0)
			return -1;
		if (nspath && nspath[0] != '/') {
			free(nspath);
			sub(fpath, path, "path");
			return bad(e, fpath, "must be an absolute path");
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

	if (get_array(lx, key, "linux", &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	sub(base, "linux", key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char path[PATH_MAX_FIELD];

		idx(path, base, i);
		if (!json_object_is_type(o, json_type_object))
			return bad(e, path, "must be an object");
		if (get_u32(o, "containerID", path, &(*out)[i].container_id, true, e) < 0 ||
		    get_u32(o, "hostID", path, &(*out)[i].host_id, true, e) < 0 ||
		    get_u32(o, "size", path, &(*out)[i].size, true, e) < 0)
			return -1;
		(*nr)++;
	}
	return 0;
}

static int get_signed_value(struct json_object *o, const char *key, const char *where, int64_t *out,
                            struct err *e)
{
	struct json_object *v = get(o, key);
	char path[PATH_MAX_FIELD];

	if (!v)
		return 0;
	sub(path, where, key);
	return as_int64(v, path, out, e);
}

static int parse_dev_rules(struct json_object *res, const char *where, struct oci_resources *r,
                           struct err *e)
{
	struct json_object *arr;
	char base[PATH_MAX_FIELD];
	size_t n;

	if (get_array(res, "devices", where, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	r->devices = calloc(n, sizeof(*r->devices));
	if (!r->devices)
		return err_set(e, ENOMEM, "out of memory");
	sub(base, where, "devices");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct oci_dev_rule *d = &r->devices[i];
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		char *type = NULL, *access = NULL;

		idx(path, base, i);
		if (!json_object_is_type(o, json_type_object))
			return bad(e, path, "must be an object");
		d->major = d->minor = -1;
		d->type = 'a';
		strcpy(d->access, "rwm");
		if (get_bool(o, "allow", path, &d->allow, e) < 0 ||
		    get_signed_value(o, "major", path, &d->major, e) < 0 ||
		    get_signed_value(o, "minor", path, &d->minor, e) < 0 ||
		    get_string(o, "type", path, &type, e) < 0 ||
		    get_string(o, "access", path, &access, e) < 0) {
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
				sub(fpath, path, "type");
				return bad(e, fpath, "must be \"a\", \"c\" or \"b\"");
			}
		}
		if (access) {
			bool ok = strlen(access) <= 3 && strspn(access, "rwm") == strlen(access);

			if (ok && access[0])
				strcpy(d->access, access);
			free(access);
			if (!ok) {
				sub(fpath, path, "access");
				return bad(e, fpath,
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
		return bad(e, where, "must be an object");
	if (get_object(res, "memory", where, &mem, e) < 0 ||
	    get_object(res, "cpu", where, &cpu, e) < 0 ||
	    get_object(res, "pids", where, &pids, e) < 0)
		return -1;
	if (mem) {
		sub(path, where, "memory");
		if (get_signed_value(mem, "limit", path, &r->mem_limit, e) < 0 ||
		    get_signed_value(mem, "reservation", path, &r->mem_reservation, e) < 0 ||
		    get_signed_value(mem, "swap", path, &r->mem_swap, e) < 0)
			return -1;
		if (r->mem_limit != OCI_UNSET && r->mem_limit < -1) {
			char fpath[PATH_MAX_FIELD];

			sub(fpath, path, "limit");
			return bad(e, fpath, "must be -1 (unlimited) or a byte count");
		}
	}
	if (cpu) {
		sub(path, where, "cpu");
		if (get_signed_value(cpu, "shares", path, &r->cpu_shares, e) < 0 ||
		    get_signed_value(cpu, "quota", path, &r->cpu_quota, e) < 0 ||
		    get_signed_value(cpu, "period", path, &r->cpu_period, e) < 0 ||
		    get_string(cpu, "cpus", path, &r->cpus, e) < 0 ||
		    get_string(cpu, "mems", path, &r->mems, e) < 0)
			return -1;
		if (r->cpu_period != OCI_UNSET && r->cpu_period < 0) {
			char fpath[PATH_MAX_FIELD];

			sub(fpath, path, "period");
			return bad(e, fpath, "must not be negative");
		}
	}
	if (pids) {
		sub(path, where, "pids");
		if (!get(pids, "limit")) {
			char fpath[PATH_MAX_FIELD];

			sub(fpath, path, "limit");
			return bad(e, fpath, "is required");
		}
		if (get_signed_value(pids, "limit", path, &r->pids_limit, e) < 0)
			return -1;
	}
	return parse_dev_rules(res, where, r, e);
}

static int parse_devices(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *arr;
	size_t n;

	if (get_array(lx, "devices", "linux", &arr, &n, e) < 0)
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

		idx(path, "linux.devices", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(e, path, "must be an object");
		s->nr_devices++;
		if (get_string(o, "path", path, &d->path, e) < 0 ||
		    get_string(o, "type", path, &type, e) < 0)
			return -1;
		sub(fpath, path, "path");
		if (!d->path || d->path[0] != '/') {
			free(type);
			return bad(e, fpath, "must be an absolute path");
		}
		sub(fpath, path, "type");
		if (!type || strlen(type) != 1 || !strchr("cbup", type[0])) {
			free(type);
			return bad(e, fpath, "must be \"c\", \"b\", \"u\" or \"p\"");
		}
		d->type = type[0];
		free(type);
		d->major = d->minor = 0;
		if (d->type != 'p') {
			if (!get(o, "major") || !get(o, "minor")) {
				sub(fpath, path, get(o, "major") ? "minor" : "major");
				return bad(e, fpath, "is required for a character or block device");
			}
		}
		if (get_signed_value(o, "major", path, &d->major, e) < 0 ||
		    get_signed_value(o, "minor", path, &d->minor, e) < 0)
			return -1;
		if (get(o, "fileMode")) {
			if (get_u32(o, "fileMode", path, &v, false, e) < 0)
				return -1;
			d->has_mode = true;
			d->mode = v & 07777;
		}
		v = 0;
		if (get_u32(o, "uid", path, &v, false, e) < 0)
			return -1;
		d->uid = v;
		v = 0;
		if (get_u32(o, "gid", path, &v, false, e) < 0)
			return -1;
		d->gid = v;
	}
	return 0;
}

static int parse_sysctl(struct json_object *lx, struct oci_spec *s, struct err *e)
{
	struct json_object *o;
	size_t n, i = 0;

	if (get_object(lx, "sysctl", "linux", &o, e) < 0)
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

		sub(path, "linux.sysctl", key);
		if (!json_object_is_type(val, json_type_string))
			return bad(e, path, "must be a string");
		if (!key[0] || strstr(key, "..") || key[0] == '.' || strchr(key, '/'))
			return bad(e, path, "is not a valid sysctl name");
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

	if (get_string(o, key, where, &name, e) < 0)
		return -1;
	if (get_signed_value(o, !strcmp(key, "action") ? "errnoRet" : "defaultErrnoRet", where,
	                     &ret, e) < 0) {
		free(name);
		return -1;
	}
	sub(path, where, key);
	if (!name)
		return bad(e, path, "is required");
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

	if (get_array(o, "args", where, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	r->args = calloc(n, sizeof(*r->args));
	if (!r->args)
		return err_set(e, ENOMEM, "out of memory");
	sub(base, where, "args");
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);
		struct oci_seccomp_arg *sa = &r->args[i];
		char path[PATH_MAX_FIELD], fpath[PATH_MAX_FIELD];
		struct json_object *v;
		char *op = NULL;
		uint32_t index = 0;
		size_t k;

		idx(path, base, i);
		if (!json_object_is_type(a, json_type_object))
			return bad(e, path, "must be an object");
		if (get_u32(a, "index", path, &index, true, e) < 0)
			return -1;
		if (index > 5) {
			sub(fpath, path, "index");
			return bad(e, fpath, "must be between 0 and 5");
		}
		sa->index = index;
		v = get(a, "value");
		sub(fpath, path, "value");
		if (!v)
			return bad(e, fpath, "is required");
		if (as_uint64(v, fpath, &sa->value, e) < 0)
			return -1;
		v = get(a, "valueTwo");
		sub(fpath, path, "valueTwo");
		if (v && as_uint64(v, fpath, &sa->value_two, e) < 0)
			return -1;
		if (get_string(a, "op", path, &op, e) < 0)
			return -1;
		sub(fpath, path, "op");
		if (!op)
			return bad(e, fpath, "is required");
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

	if (get_object(lx, "seccomp", "linux", &o, e) < 0)
		return -1;
	if (!o)
		return 0;
	sc = s->seccomp = calloc(1, sizeof(*sc));
	if (!sc)
		return err_set(e, ENOMEM, "out of memory");
	if (parse_action(o, "linux.seccomp", "defaultAction", &sc->default_action, e) < 0)
		return -1;
	if (get_strv(o, "architectures", "linux.seccomp", false, &archs, &n, e) < 0)
		return -1;
	if (n) {
		sc->archs = calloc(n, sizeof(*sc->archs));
		if (!sc->archs) {
			strv_free(archs);
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
			strv_free(archs);
			return -1;
		}
		sc->archs[sc->nr_archs++] = a;
	}
	strv_free(archs);
	if (get_array(o, "syscalls", "linux.seccomp", &arr, &n, e) < 0)
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

		idx(path, "linux.seccomp.syscalls", i);
		if (!json_object_is_type(r, json_type_object))
			return bad(e, path, "must be an object");
		sc->nr_rules++;
		if (get_strv(r, "names", path, true, &rule->names, &rule->nr_names, e) < 0 ||
		    parse_action(r, path, "action", &rule->action, e) < 0 ||
		    parse_seccomp_args(r, path, rule, e) < 0)
			return -1;
	}
	return 0;
}

static void seccomp_free(struct oci_seccomp *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->nr_rules; i++) {
		strv_free(sc->rules[i].names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
	free(sc->archs);
	free(sc);
}

static int parse_linux(struct json_object *root, struct oci_spec *s, struct err *e)
{
	struct json_object *lx, *res;

	resources_init(&s->resources);
	if (get_object(root, "linux", "", &lx, e) < 0)
		return -1;
	if (!lx)
		return 0;
	if (parse_namespaces(lx, s, e) < 0 ||
	    parse_idmaps(lx, "uidMappings", &s->uid_mappings, &s->nr_uid_mappings, e) < 0 ||
	    parse_idmaps(lx, "gidMappings", &s->gid_mappings, &s->nr_gid_mappings, e) < 0)
		return -1;
	if (get_object(lx, "resources", "linux", &res, e) < 0 ||
	    oci_resources_parse(res, "linux.resources", &s->resources, e) < 0)
		return -1;
	if (get_string(lx, "cgroupsPath", "linux", &s->cgroups_path, e) < 0 ||
	    parse_sysctl(lx, s, e) < 0 ||
	    get_strv(lx, "maskedPaths", "linux", false, &s->masked_paths, &s->nr_masked_paths, e) <
	            0 ||
	    get_strv(lx, "readonlyPaths", "linux", false, &s->readonly_paths, &s->nr_readonly_paths,
	             e) < 0 ||
	    parse_seccomp(lx, s, e) < 0 || parse_devices(lx, s, e) < 0)
		return -1;
	if (s->ns[OCI_NS_USER].present && !s->ns[OCI_NS_USER].path &&
	    (!s->nr_uid_mappings || !s->nr_gid_mappings))
		return bad(e, "linux.uidMappings",
		           "a new user namespace needs uidMappings and gidMappings");
	return 0;
}

/* ---- spec -------------------------------------------------------------- */

static int parse_spec(struct json_object *root, struct oci_spec *s, struct err *e)
{
	struct json_object *v;

	if (!json_object_is_type(root, json_type_object))
		return err_set(e, EINVAL, "config: must be a JSON object");
	if (get_string(root, "ociVersion", "", &s->version, e) < 0)
		return -1;
	if (!s->version)
		return bad(e, "ociVersion", "is required");
	if (get_object(root, "process", "", &v, e) < 0)
		return -1;
	if (v && oci_process_parse(v, "process", &s->process, e) < 0)
		return -1;
	if (get_object(root, "root", "", &v, e) < 0)
		return -1;
	if (!v)
		return bad(e, "root", "is required");
	if (get_string(v, "path", "root", &s->root_path, e) < 0 ||
	    get_bool(v, "readonly", "root", &s->root_readonly, e) < 0)
		return -1;
	if (!s->root_path || !s->root_path[0])
		return bad(e, "root.path", "is required");
	if (get_string(root, "hostname", "", &s->hostname, e) < 0)
		return -1;
	if (parse_mounts(root, s, e) < 0)
		return -1;
	return parse_linux(root, s, e);
}

int oci_spec_from_json(struct json_object *root, struct oci_spec **out, struct err *e)
{
	struct oci_spec *s = calloc(1, sizeof(*s));

	if (!s)
		return err_set(e, ENOMEM, "out of memory");
	if (parse_spec(root, s, e) < 0) {
		oci_spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int oci_spec_parse(const char *json, struct oci_spec **out, struct err *e)
{
	struct json_object *o = parse_text(json, e);
	int r;

	if (!o)
		return -1;
	r = oci_spec_from_json(o, out, e);
	json_object_put(o);
	return r;
}

void oci_spec_free(struct oci_spec *s)
{
	if (!s)
		return;
	free(s->version);
	oci_process_free(s->process);
	free(s->root_path);
	free(s->hostname);
	for (size_t i = 0; i < s->nr_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	for (int i = 0; i < OCI_NS_MAX; i++)
		free(s->ns[i].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	oci_resources_clear(&s->resources);
	free(s->cgroups_path);
	strv_free(s->sysctl_keys);
	strv_free(s->sysctl_values);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	seccomp_free(s->seccomp);
	for (size_t i = 0; i < s->nr_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s);
}
