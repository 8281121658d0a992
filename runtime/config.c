/* runtime/config.c: configuration.toml and its drop-ins, applied over
 * built-in defaults through one table of known keys per section, so that an
 * unknown key or a wrong type is an error naming file:line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/toml.h"
#include "lib/util.h"
#include "runtime/config.h"

enum key_type { K_STR, K_UINT, K_BOOL, K_STRV, K_SHARED_FS };

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	const char *const *choices; /* K_STR, K_STRV: allowed values, NULL-terminated */
	unsigned int min, max;      /* K_UINT */
	const char *warn;           /* K_STRV: accepted but ignored when not empty */
};

struct section {
	const char *name; /* "hypervisor.qemu" */
	size_t off;       /* of the section struct in struct config */
	const struct key *keys;
};

static const char *const accel_choices[] = {"auto", "kvm", "tcg", NULL};
static const char *const hv_choices[] = {"auto", "builtin", "qemu", "none", NULL};
static const char *const net_choices[] = {"tcfilter", "macvtap", "none", NULL};
static const char *const shared_fs_names[] = {"virtio-fs", "virtio-blk", "virtio-9p", NULL};
/* hako has no experimental features yet; naming one is an error. */
static const char *const experimental_choices[] = {NULL};

#define HV(f) offsetof(struct config_hypervisor, f)
/* Keys both hypervisor sections have. */
#define HV_COMMON_KEYS                                                                             \
	{"kernel", K_STR, HV(kernel), NULL, 0, 0, NULL},                                           \
	        {"initrd", K_STR, HV(initrd), NULL, 0, 0, NULL},                                   \
	        {"kernel_params", K_STR, HV(kernel_params), NULL, 0, 0, NULL},                     \
	        {"default_vcpus", K_UINT, HV(default_vcpus), NULL, 1, 255, NULL},                  \
	        {"default_maxvcpus", K_UINT, HV(default_maxvcpus), NULL, 0, 255, NULL},            \
	        {"default_memory", K_UINT, HV(default_memory), NULL, 32, 1u << 20, NULL},          \
	        {"shared_fs", K_SHARED_FS, HV(shared_fs), NULL, 0, 0, NULL},                       \
	        {"cpuid_mask", K_STRV, HV(cpuid_mask), NULL, 0, 0, NULL},                          \
	{                                                                                          \
		"enable_debug", K_BOOL, HV(enable_debug), NULL, 0, 0, NULL                         \
	}

static const struct key builtin_keys[] = {
        HV_COMMON_KEYS,
        {NULL, K_STR, 0, NULL, 0, 0, NULL},
};

static const struct key qemu_keys[] = {
        HV_COMMON_KEYS,
        {"path", K_STR, HV(path), NULL, 0, 0, NULL},
        {"virtio_fs_daemon", K_STR, HV(virtio_fs_daemon), NULL, 0, 0, NULL},
        {"accel", K_STR, HV(accel), accel_choices, 0, 0, NULL},
        {NULL, K_STR, 0, NULL, 0, 0, NULL},
};

#define AG(f) offsetof(struct config_agent, f)
static const struct key agent_keys[] = {
        {"dial_timeout", K_UINT, AG(dial_timeout), NULL, 1, 3600, NULL},
        {"debug_console", K_BOOL, AG(debug_console), NULL, 0, 0, NULL},
        {"kernel_modules", K_STRV, AG(kernel_modules), NULL, 0, 0,
         "not supported (hako's guest kernel has no modules): ignored"},
        {NULL, K_STR, 0, NULL, 0, 0, NULL},
};

#define RT(f) offsetof(struct config_runtime, f)
static const struct key runtime_keys[] = {
        {"hypervisor_name", K_STR, RT(hypervisor_name), hv_choices, 0, 0, NULL},
        {"internetworking_model", K_STR, RT(internetworking_model), net_choices, 0, 0, NULL},
        {"sandbox_cgroup_only", K_BOOL, RT(sandbox_cgroup_only), NULL, 0, 0, NULL},
        {"enable_debug", K_BOOL, RT(enable_debug), NULL, 0, 0, NULL},
        {"experimental", K_STRV, RT(experimental), experimental_choices, 0, 0, NULL},
        {"test_only", K_BOOL, RT(test_only), NULL, 0, 0, NULL},
        {NULL, K_STR, 0, NULL, 0, 0, NULL},
};

static const struct section sections[] = {
        {"hypervisor.builtin", offsetof(struct config, builtin), builtin_keys},
        {"hypervisor.qemu", offsetof(struct config, qemu), qemu_keys},
        {"agent.hako", offsetof(struct config, agent), agent_keys},
        {"runtime", offsetof(struct config, runtime), runtime_keys},
};

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static int strv_push(char ***v, const char *s, struct err *e)
{
	size_t n = strv_len(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(*nv));

	if (!nv)
		return err_set(e, ENOMEM, "out of memory");
	*v = nv;
	nv[n] = strdup(s);
	nv[n + 1] = NULL;
	if (!nv[n])
		return err_set(e, ENOMEM, "out of memory");
	return 0;
}

static int set_str(char **field, const char *value, struct err *e)
{
	char *s = strdup(value);

	if (!s)
		return err_set(e, ENOMEM, "out of memory");
	free(*field);
	*field = s;
	return 0;
}

static int hv_defaults(struct config_hypervisor *h, struct err *e)
{
	h->default_vcpus = 1;
	h->default_maxvcpus = 0;
	h->default_memory = 512;
	h->shared_fs = HV_SHARED_FS_VIRTIO_FS;
	h->enable_debug = false;
	if (set_str(&h->path, "", e) < 0 || set_str(&h->kernel, "", e) < 0 ||
	    set_str(&h->initrd, "", e) < 0 || set_str(&h->kernel_params, "", e) < 0 ||
	    set_str(&h->virtio_fs_daemon, "", e) < 0 || set_str(&h->accel, "auto", e) < 0)
		return -1;
	h->cpuid_mask = calloc(1, sizeof(char *));
	return h->cpuid_mask ? 0 : err_set(e, ENOMEM, "out of memory");
}

int config_defaults(struct config **out, struct err *e)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		return err_set(e, ENOMEM, "out of memory");
	if (hv_defaults(&c->builtin, e) < 0 || hv_defaults(&c->qemu, e) < 0 ||
	    set_str(&c->qemu.path, "/usr/bin/qemu-system-x86_64", e) < 0 ||
	    set_str(&c->qemu.virtio_fs_daemon, "/usr/lib/qemu/virtiofsd", e) < 0 ||
	    set_str(&c->runtime.hypervisor_name, "auto", e) < 0 ||
	    set_str(&c->runtime.internetworking_model, "tcfilter", e) < 0)
		goto fail;
	c->agent.dial_timeout = 60;
	c->dropins = calloc(1, sizeof(char *));
	c->warnings = calloc(1, sizeof(char *));
	c->agent.kernel_modules = calloc(1, sizeof(char *));
	c->runtime.experimental = calloc(1, sizeof(char *));
	if (!c->dropins || !c->warnings || !c->agent.kernel_modules || !c->runtime.experimental) {
		err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	config_free(c);
	return -1;
}

static void hv_free(struct config_hypervisor *h)
{
	free(h->path);
	free(h->kernel);
	free(h->initrd);
	free(h->kernel_params);
	free(h->virtio_fs_daemon);
	free(h->accel);
	strv_free(h->cpuid_mask);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	strv_free(c->dropins);
	strv_free(c->warnings);
	hv_free(&c->builtin);
	hv_free(&c->qemu);
	strv_free(c->agent.kernel_modules);
	free(c->runtime.hypervisor_name);
	free(c->runtime.internetworking_model);
	strv_free(c->runtime.experimental);
	free(c);
}

const char *config_shared_fs_name(enum hv_shared_fs fs)
{
	return (unsigned int)fs < ARRAY_SIZE(shared_fs_names) - 1 ? shared_fs_names[fs] : "?";
}

/* "auto, kvm or tcg" */
static void choices_text(const char *const *choices, char *buf, size_t size)
{
	size_t n = 0, count = 0;

	buf[0] = '\0';
	while (choices[count])
		count++;
	for (size_t i = 0; i < count && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s\"%s\"",
		                      i == 0           ? ""
		                      : i + 1 == count ? " or "
		                                       : ", ",
		                      choices[i]);
}

static bool in_choices(const char *const *choices, const char *s)
{
	for (size_t i = 0; choices[i]; i++)
		if (!strcmp(choices[i], s))
			return true;
	return false;
}

static int type_error(const char *name, const char *sec, const struct key *k,
                      const struct toml_kv *kv, const char *want, struct err *e)
{
	return err_set(e, EINVAL, "%s:%d: %s.%s: expected %s, found %s", name, kv->line, sec,
	               k->name, want, toml_type_name(kv->val.type));
}

static int apply_key(struct config *c, void *base, const char *name, const char *sec,
                     const struct key *k, const struct toml_kv *kv, struct err *e)
{
	void *field = (char *)base + k->off;
	const struct toml_value *v = &kv->val;

	switch (k->type) {
	case K_STR:
		if (v->type != TOML_STRING)
			return type_error(name, sec, k, kv, "a string", e);
		if (k->choices && !in_choices(k->choices, v->u.s)) {
			{
				char buf[128];

				choices_text(k->choices, buf, sizeof(buf));
				return err_set(e, EINVAL, "%s:%d: %s.%s: \"%s\" is not one of %s",
				               name, kv->line, sec, k->name, v->u.s, buf);
			}
		}
		return set_str(field, v->u.s, e);
	case K_UINT:
		if (v->type != TOML_INT)
			return type_error(name, sec, k, kv, "an integer", e);
		if (v->u.i < (int64_t)k->min || v->u.i > (int64_t)k->max)
			return err_set(e, ERANGE, "%s:%d: %s.%s: %lld is out of range %u..%u", name,
			               kv->line, sec, k->name, (long long)v->u.i, k->min, k->max);
		*(unsigned int *)field = (unsigned int)v->u.i;
		return 0;
	case K_BOOL:
		if (v->type != TOML_BOOL)
			return type_error(name, sec, k, kv, "a boolean", e);
		*(bool *)field = v->u.b;
		return 0;
	case K_SHARED_FS:
		if (v->type != TOML_STRING)
			return type_error(name, sec, k, kv, "a string", e);
		for (int i = 0; shared_fs_names[i]; i++) {
			if (!strcmp(shared_fs_names[i], v->u.s)) {
				*(enum hv_shared_fs *)field = (enum hv_shared_fs)i;
				return 0;
			}
		}
		return err_set(e, EINVAL,
		               "%s:%d: %s.%s: \"%s\" is not one of \"virtio-fs\", \"virtio-blk\" "
		               "or \"virtio-9p\"",
		               name, kv->line, sec, k->name, v->u.s);
	case K_STRV: {
		char **nv = calloc(1, sizeof(char *));

		if (!nv)
			return err_set(e, ENOMEM, "out of memory");
		if (v->type != TOML_ARRAY) {
			free(nv);
			return type_error(name, sec, k, kv, "an array of strings", e);
		}
		for (size_t i = 0; i < v->u.arr->n; i++) {
			const struct toml_value *item = &v->u.arr->items[i];

			if (item->type != TOML_STRING) {
				strv_free(nv);
				return err_set(
				        e, EINVAL,
				        "%s:%d: %s.%s: expected an array of strings, item %zu "
				        "is %s",
				        name, item->line, sec, k->name, i + 1,
				        toml_type_name(item->type));
			}
			if (k->choices && !in_choices(k->choices, item->u.s)) {
				strv_free(nv);
				return err_set(e, EINVAL, "%s:%d: %s.%s: unknown feature \"%s\"",
				               name, item->line, sec, k->name, item->u.s);
			}
			if (strv_push(&nv, item->u.s, e) < 0) {
				strv_free(nv);
				return -1;
			}
		}
		strv_free(*(char ***)field);
		*(char ***)field = nv;
		if (k->warn && v->u.arr->n > 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s:%d: %s.%s: %s", name, kv->line, sec, k->name,
			         k->warn);
			return strv_push(&c->warnings, msg, e);
		}
		return 0;
	}
	}
	return err_set(e, EINVAL, "internal: bad key type");
}

static int apply_section(struct config *c, const struct section *s, const struct toml_table *t,
                         const char *name, struct err *e)
{
	void *base = (char *)c + s->off;

	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->kv[i];
		const struct key *k;

		for (k = s->keys; k->name && strcmp(k->name, kv->key); k++)
			;
		if (!k->name)
			return err_set(e, EINVAL, "%s:%d: unknown key '%s' in [%s]", name, kv->line,
			               kv->key, s->name);
		if (apply_key(c, base, name, s->name, k, kv, e) < 0)
			return -1;
	}
	return 0;
}

/* Walk the document: only the tables that lead to a known section may appear. */
static int apply_table(struct config *c, const struct toml_table *t, const char *prefix,
                       const char *name, struct err *e)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->kv[i];
		char path[128];
		bool parent = false;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", kv->key);
		for (size_t j = 0; j < ARRAY_SIZE(sections); j++) {
			const struct section *s = &sections[j];
			size_t n = strlen(path);

			if (!strcmp(s->name, path)) {
				if (kv->val.type != TOML_TABLE)
					return err_set(
					        e, EINVAL, "%s:%d: %s: expected a table, found %s",
					        name, kv->line, path, toml_type_name(kv->val.type));
				if (apply_section(c, s, kv->val.u.tab, name, e) < 0)
					return -1;
				goto next;
			}
			if (!strncmp(s->name, path, n) && s->name[n] == '.')
				parent = true;
		}
		if (!parent || kv->val.type != TOML_TABLE) {
			if (*prefix)
				return err_set(e, EINVAL, "%s:%d: unknown key '%s' in [%s]", name,
				               kv->line, kv->key, prefix);
			return err_set(e, EINVAL, "%s:%d: unknown key '%s'", name, kv->line,
			               kv->key);
		}
		if (apply_table(c, kv->val.u.tab, path, name, e) < 0)
			return -1;
	next:;
	}
	return 0;
}

int config_apply_text(struct config *c, const char *text, const char *name, struct err *e)
{
	struct toml_table *t;
	int ret;

	if (toml_parse(text, strlen(text), name, &t, e) < 0)
		return -1;
	ret = apply_table(c, t, "", name, e);
	toml_free(t);
	return ret;
}

int config_apply_file(struct config *c, const char *path, struct err *e)
{
	cleanup_free char *text = NULL;

	if (util_read_file(path, 1u << 20, &text, NULL, e) < 0)
		return -1;
	return config_apply_text(c, text, path, e);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* config.d/ *.toml beside the main file, in byte order of their names. */
static int apply_dropins(struct config *c, const char *main_path, struct err *e)
{
	char dir[PATH_MAX];
	char **names = NULL;
	size_t n = 0;
	const char *slash = strrchr(main_path, '/');
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s/config.d", (int)(slash - main_path), main_path);
	else
		snprintf(dir, sizeof(dir), "config.d");
	d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : err_sys(e, "open %s", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".toml"))
			continue;
		if (strv_push(&names, de->d_name, e) < 0) {
			ret = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (ret == 0 && n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		char path[PATH_MAX];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
			ret = err_set(e, ENAMETOOLONG, "path too long: %s/%s", dir, names[i]);
		else
			ret = config_apply_file(c, path, e);
		if (ret == 0)
			ret = strv_push(&c->dropins, path, e);
	}
	strv_free(names);
	return ret;
}

/* Checks that span keys, once every file is applied (a drop-in may set
 * either key). */
static int check_combined(const struct config *c, struct err *e)
{
	const struct config_hypervisor *hs[] = {&c->builtin, &c->qemu};
	const char *names[] = {"builtin", "qemu"};

	for (size_t i = 0; i < ARRAY_SIZE(hs); i++)
		if (hs[i]->default_maxvcpus && hs[i]->default_maxvcpus < hs[i]->default_vcpus)
			return err_set(e, EINVAL,
			               "hypervisor.%s.default_maxvcpus (%u) is less than "
			               "default_vcpus (%u)",
			               names[i], hs[i]->default_maxvcpus, hs[i]->default_vcpus);
	return 0;
}

int config_load(const char *path, struct config **out, struct err *e)
{
	struct config *c;
	bool explicit = path != NULL;

	if (!path) {
		path = getenv("HAKO_CONFIG");
		explicit = path && *path;
		if (!explicit)
			path = CONFIG_DEFAULT_PATH;
	}
	if (config_defaults(&c, e) < 0)
		return -1;
	if (access(path, F_OK) == 0 || explicit) {
		if (config_apply_file(c, path, e) < 0)
			goto fail;
		if (set_str(&c->path, path, e) < 0)
			goto fail;
	}
	if (apply_dropins(c, path, e) < 0 || check_combined(c, e) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	config_free(c);
	return -1;
}

void config_probe_host(struct config_host *h)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	cleanup_free char *cpuinfo = NULL;
	struct err e;

	memset(h, 0, sizeof(*h));
	if (fd >= 0) {
		h->kvm = true;
		close(fd);
	}
	h->kvm_pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	if (util_read_file("/proc/cpuinfo", 64u << 20, &cpuinfo, NULL, &e) == 0)
		h->hw_virt = strstr(cpuinfo, " vmx") || strstr(cpuinfo, " svm");
}

static void choice_set(struct config_choice *out, const char *hv, const char *accel,
                       const char *reason)
{
	snprintf(out->hypervisor, sizeof(out->hypervisor), "%s", hv);
	snprintf(out->accel, sizeof(out->accel), "%s", accel);
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

static int choose_qemu(const struct config *c, const struct config_host *host, const char *why,
                       struct config_choice *out, struct err *e)
{
	const char *accel = c->qemu.accel;
	char reason[256];

	if (!strcmp(accel, "kvm") && !host->kvm)
		return err_set(e, ENODEV,
		               "hypervisor.qemu.accel = \"kvm\" but /dev/kvm is not usable");
	if (!strcmp(accel, "auto"))
		accel = host->kvm && !host->kvm_pvm ? "kvm" : "tcg";
	snprintf(reason, sizeof(reason), "%s: using qemu with %s", why,
	         !strcmp(accel, "kvm") ? "KVM" : "TCG");
	choice_set(out, "qemu", accel, reason);
	return 0;
}

int config_choose_hypervisor(const struct config *c, const char *override,
                             const struct config_host *host, struct config_choice *out,
                             struct err *e)
{
	const char *name = override && *override ? override : c->runtime.hypervisor_name;

	if (!strcmp(name, "none")) {
		if (!c->runtime.test_only)
			return err_set(
			        e, EPERM,
			        "hypervisor \"none\" is a test driver: it runs containers "
			        "without a VM and is refused unless [runtime] test_only = true");
		choice_set(out, "none", "", "test driver (runtime.test_only = true): no VM");
		return 0;
	}
	if (!strcmp(name, "qemu"))
		return choose_qemu(c, host, override ? "--hypervisor qemu" : "configured", out, e);
	if (!strcmp(name, "builtin")) {
		if (!host->kvm)
			return err_set(
			        e, ENODEV,
			        "hypervisor \"builtin\" needs /dev/kvm, which is not usable here");
		choice_set(out, "builtin", "kvm",
		           host->kvm_pvm
		                   ? "configured: builtin on software-emulated KVM (kvm_pvm): "
		                     "guest kernel code runs ~1000x slower"
		                   : "configured: builtin");
		return 0;
	}
	if (strcmp(name, "auto"))
		return err_set(
		        e, EINVAL,
		        "unknown hypervisor \"%s\" (expected \"auto\", \"builtin\", \"qemu\" "
		        "or \"none\")",
		        name);
	if (!host->kvm)
		return choose_qemu(c, host, "/dev/kvm is absent or not usable", out, e);
	if (host->kvm_pvm)
		return choose_qemu(c, host, "software-emulated KVM (kvm_pvm) detected", out, e);
	if (!hv_lookup("builtin"))
		return choose_qemu(c, host, "hardware KVM, but this build has no builtin driver",
		                   out, e);
	choice_set(out, "builtin", "kvm", "hardware KVM: using the builtin hypervisor");
	return 0;
}

int config_resolve_hypervisor(const struct config *c, const char *override,
                              struct config_choice *out, struct err *e)
{
	struct config_host host;

	config_probe_host(&host);
	return config_choose_hypervisor(c, override, &host, out, e);
}

const struct config_hypervisor *config_hypervisor(const struct config *c, const char *name)
{
	return !strcmp(name, "builtin") ? &c->builtin : &c->qemu;
}

/* Ask the source tree's guest build script where it puts its output. */
static int asset_from_build(const char *script, char **path)
{
#ifdef HAKO_SOURCE_DIR
	char cmd[PATH_MAX + 32], line[PATH_MAX];
	FILE *p;
	size_t n;
	int status;

	snprintf(cmd, sizeof(cmd), "%s/guest/%s", HAKO_SOURCE_DIR, script);
	if (access(cmd, X_OK) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s/guest/%s' --print-path 2>/dev/null", HAKO_SOURCE_DIR,
	         script);
	p = popen(cmd, "re");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	status = pclose(p);
	n = strcspn(line, "\n");
	line[n] = '\0';
	if (status != 0 || n == 0 || access(line, R_OK) < 0)
		return -1;
	*path = strdup(line);
	return *path ? 0 : -1;
#else
	(void)script;
	(void)path;
	return -1;
#endif
}

int config_asset(const struct config_hypervisor *h, enum config_asset which, char **path,
                 const char **from, struct err *e)
{
	const char *key = which == CONFIG_ASSET_KERNEL ? "kernel" : "initrd";
	const char *configured = which == CONFIG_ASSET_KERNEL ? h->kernel : h->initrd;
	const char *installed = which == CONFIG_ASSET_KERNEL ? CONFIG_DATA_DIR "/vmlinux"
	                                                     : CONFIG_DATA_DIR "/initrd.img";
	const char *script = which == CONFIG_ASSET_KERNEL ? "build-kernel.sh" : "build-initrd.sh";
	const char *dummy;

	if (!from)
		from = &dummy;
	if (*configured) {
		if (access(configured, R_OK) < 0)
			return err_sys(e, "guest %s %s (configured)", key, configured);
		*from = "configuration";
		*path = strdup(configured);
	} else if (access(installed, R_OK) == 0) {
		*from = "installed";
		*path = strdup(installed);
	} else if (asset_from_build(script, path) == 0) {
		*from = "build cache";
		return 0;
	} else {
		return err_set(e, ENOENT,
		               "no guest %s: %s does not exist and guest/%s --print-path found "
		               "none (build it, or set %s in the configuration)",
		               key, installed, script, key);
	}
	return *path ? 0 : err_set(e, ENOMEM, "out of memory");
}

int config_hv_config(const struct config *c, const struct config_choice *choice,
                     struct hv_config *hc, char **kernel, char **initrd, struct err *e)
{
	const struct config_hypervisor *h = config_hypervisor(c, choice->hypervisor);

	*kernel = *initrd = NULL;
	if (config_asset(h, CONFIG_ASSET_KERNEL, kernel, NULL, e) < 0)
		return -1;
	if (config_asset(h, CONFIG_ASSET_INITRD, initrd, NULL, e) < 0) {
		free(*kernel);
		*kernel = NULL;
		return -1;
	}
	hc->path = *h->path ? h->path : NULL;
	hc->kernel = *kernel;
	hc->initrd = *initrd;
	hc->kernel_params = h->kernel_params;
	hc->vcpus = h->default_vcpus;
	hc->memory_mib = h->default_memory;
	hc->accel = choice->accel;
	hc->shared_fs = h->shared_fs;
	hc->virtiofsd = *h->virtio_fs_daemon ? h->virtio_fs_daemon : NULL;
	hc->cpuid_mask = (const char *const *)h->cpuid_mask;
	hc->debug = h->enable_debug || c->runtime.enable_debug;
	return 0;
}
