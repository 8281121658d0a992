/* agent/oci.c: OCI runtime-spec config.json -> struct oci_spec: the spec,
 * process and mounts (linux: oci_linux.c), every rejected value reported by
 * its field path. The agent gets config.json rendered from Kata's proto3
 * grpc.Spec, which drops integers equal to 0: integers where 0 means
 * something (rlimits, id map ids, seccomp args, device minors) default to 0
 * when absent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "agent/oci_internal.h"
#include "lib/util.h"

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

	if (oci_get_array(o, "rlimits", where, &arr, &n, e) < 0)
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

		oci_sub(base, where, "rlimits");
		oci_idx(path, base, i);
		if (!json_object_is_type(r, json_type_object))
			return oci_bad(e, path, "must be an object");
		v = oci_get(r, "type");
		oci_sub(base, path, "type");
		if (!v || !json_object_is_type(v, json_type_string))
			return oci_bad(e, base, "must be a string naming an RLIMIT_*");
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

			v = oci_get(r, key);
			oci_sub(base, path, key);
			if (v && oci_as_uint64(v, base, dst, e) < 0)
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

	if (oci_get_strv(caps, key, where, false, &names, &n, e) < 0)
		return -1;
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		cap_value_t c;

		if (cap_from_name(names[i], &c) == 0 && c >= 0 && c < 64)
			*mask |= 1ull << c;
	}
	oci_strv_free(names);
	return 0;
}

static int parse_user(struct json_object *o, const char *where, struct oci_process *p,
                      struct err *e)
{
	struct json_object *u, *arr;
	char path[PATH_MAX_FIELD], ipath[PATH_MAX_FIELD];
	uint32_t v32;
	size_t n;

	if (oci_get_object(o, "user", where, &u, e) < 0)
		return -1;
	if (!u)
		return 0;
	oci_sub(path, where, "user");
	if (oci_get_u32(u, "uid", path, &v32, false, e) < 0)
		return -1;
	p->uid = v32;
	v32 = 0;
	if (oci_get_u32(u, "gid", path, &v32, false, e) < 0)
		return -1;
	p->gid = v32;
	if (oci_get(u, "umask")) {
		if (oci_get_u32(u, "umask", path, &v32, false, e) < 0)
			return -1;
		if (v32 > 0777) {
			oci_sub(ipath, path, "umask");
			return oci_bad(e, ipath, "out of range");
		}
		p->umask = (int)v32;
	}
	if (oci_get_array(u, "additionalGids", path, &arr, &n, e) < 0)
		return -1;
	if (!n)
		return 0;
	p->additional_gids = calloc(n, sizeof(gid_t));
	if (!p->additional_gids)
		return err_set(e, ENOMEM, "out of memory");
	oci_sub(ipath, path, "additionalGids");
	for (size_t i = 0; i < n; i++) {
		char gpath[PATH_MAX_FIELD];
		uint64_t g;

		oci_idx(gpath, ipath, i);
		if (oci_as_uint64(json_object_array_get_idx(arr, i), gpath, &g, e) < 0)
			return -1;
		if (g > UINT32_MAX)
			return oci_bad(e, gpath, "out of range");
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

	if (oci_get_strv(o, "args", where, true, &p->args, NULL, e) < 0)
		return -1;
	if (oci_get_strv(o, "env", where, false, &p->env, NULL, e) < 0)
		return -1;
	if (!p->env) {
		p->env = calloc(1, sizeof(char *));
		if (!p->env)
			return err_set(e, ENOMEM, "out of memory");
	}
	if (oci_get_string(o, "cwd", where, &p->cwd, e) < 0)
		return -1;
	oci_sub(path, where, "cwd");
	if (!p->cwd || p->cwd[0] != '/')
		return oci_bad(e, path, "must be an absolute path");
	if (oci_get_bool(o, "terminal", where, &p->terminal, e) < 0)
		return -1;
	if (oci_get_object(o, "consoleSize", where, &v, e) < 0)
		return -1;
	if (v) {
		uint32_t h = 0, w = 0;

		oci_sub(path, where, "consoleSize");
		if (oci_get_u32(v, "height", path, &h, false, e) < 0 ||
		    oci_get_u32(v, "width", path, &w, false, e) < 0)
			return -1;
		p->console_height = h;
		p->console_width = w;
	}
	if (parse_user(o, where, p, e) < 0)
		return -1;
	if (parse_rlimits(o, where, p, e) < 0)
		return -1;
	if (oci_get_object(o, "capabilities", where, &v, e) < 0)
		return -1;
	if (v) {
		oci_sub(path, where, "capabilities");
		p->has_caps = true;
		if (parse_capset(v, path, "bounding", &p->caps.bounding, e) < 0 ||
		    parse_capset(v, path, "effective", &p->caps.effective, e) < 0 ||
		    parse_capset(v, path, "inheritable", &p->caps.inheritable, e) < 0 ||
		    parse_capset(v, path, "permitted", &p->caps.permitted, e) < 0 ||
		    parse_capset(v, path, "ambient", &p->caps.ambient, e) < 0)
			return -1;
	}
	if (oci_get_bool(o, "noNewPrivileges", where, &p->no_new_privileges, e) < 0)
		return -1;
	if (oci_get(o, "oomScoreAdj")) {
		if (oci_get_int64(o, "oomScoreAdj", where, &i64, e) < 0)
			return -1;
		if (i64 < -1000 || i64 > 1000) {
			oci_sub(path, where, "oomScoreAdj");
			return oci_bad(e, path, "must be between -1000 and 1000");
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
		return oci_bad(e, where, "must be an object");
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
	oci_strv_free(p->args);
	oci_strv_free(p->env);
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
		return oci_bad(e, where, "must be an array of strings");
	n = json_object_array_length(opts);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(opts, i);

		if (!json_object_is_type(s, json_type_string)) {
			char ipath[PATH_MAX_FIELD];

			free(v);
			oci_idx(ipath, where, i);
			return oci_bad(e, ipath, "must be a string");
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

	if (oci_get_array(root, "mounts", "", &arr, &n, e) < 0)
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

		oci_idx(path, "mounts", i);
		s->nr_mounts++;
		if (!json_object_is_type(m, json_type_object))
			return oci_bad(e, path, "must be an object");
		if (oci_get_string(m, "destination", path, &om->destination, e) < 0 ||
		    oci_get_string(m, "type", path, &om->type, e) < 0 ||
		    oci_get_string(m, "source", path, &om->source, e) < 0)
			return -1;
		oci_sub(opath, path, "destination");
		if (!om->destination || om->destination[0] != '/')
			return oci_bad(e, opath, "must be an absolute path");
		oci_sub(opath, path, "options");
		if (oci_mount_options(oci_get(m, "options"), opath, &om->flags, &om->propagation,
		                      &om->data, e) < 0)
			return -1;
		if (om->type && !strcmp(om->type, "bind"))
			om->flags |= MS_BIND;
		if (!(om->flags & MS_BIND) && !om->type) {
			oci_sub(opath, path, "type");
			return oci_bad(e, opath,
			               "is required for a mount that is not a bind mount");
		}
		if ((om->flags & MS_BIND) && !om->source) {
			oci_sub(opath, path, "source");
			return oci_bad(e, opath, "is required for a bind mount");
		}
	}
	return 0;
}

/* ---- spec -------------------------------------------------------------- */

static int parse_spec(struct json_object *root, struct oci_spec *s, struct err *e)
{
	struct json_object *v;

	if (!json_object_is_type(root, json_type_object))
		return err_set(e, EINVAL, "config: must be a JSON object");
	if (oci_get_string(root, "ociVersion", "", &s->version, e) < 0)
		return -1;
	if (!s->version)
		return oci_bad(e, "ociVersion", "is required");
	if (oci_get_object(root, "process", "", &v, e) < 0)
		return -1;
	if (v && oci_process_parse(v, "process", &s->process, e) < 0)
		return -1;
	if (oci_get_object(root, "root", "", &v, e) < 0)
		return -1;
	if (!v)
		return oci_bad(e, "root", "is required");
	if (oci_get_string(v, "path", "root", &s->root_path, e) < 0 ||
	    oci_get_bool(v, "readonly", "root", &s->root_readonly, e) < 0)
		return -1;
	if (!s->root_path || !s->root_path[0])
		return oci_bad(e, "root.path", "is required");
	if (oci_get_string(root, "hostname", "", &s->hostname, e) < 0)
		return -1;
	if (parse_mounts(root, s, e) < 0)
		return -1;
	return oci_parse_linux(root, s, e);
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
	oci_strv_free(s->sysctl_keys);
	oci_strv_free(s->sysctl_values);
	oci_strv_free(s->masked_paths);
	oci_strv_free(s->readonly_paths);
	oci_seccomp_free(s->seccomp);
	for (size_t i = 0; i < s->nr_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s);
}
