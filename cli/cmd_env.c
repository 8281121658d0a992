/* cli/cmd_env.c: `hako env`: the configuration in effect, the guest assets and
 * versions, and the hypervisor choice with its reason; TOML by default (the
 * configuration sections can be pasted back into configuration.toml), or
 * --json. Both are printed from one json-c tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "runtime/bundle.h"
#include "runtime/config.h"

static const struct cli_option options[] = {
        {"json", 'j', NULL, "print JSON instead of TOML"},
        {NULL, 0, NULL, NULL},
};

static struct json_object *strv_json(char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

#define ADD(o, k, v) json_object_object_add(o, k, v)
#define STR(s)       json_object_new_string(s)

static struct json_object *hv_json(const struct config_hypervisor *h, bool qemu)
{
	struct json_object *o = json_object_new_object();

	if (qemu)
		ADD(o, "path", STR(h->path));
	ADD(o, "kernel", STR(h->kernel));
	ADD(o, "initrd", STR(h->initrd));
	ADD(o, "kernel_params", STR(h->kernel_params));
	ADD(o, "default_vcpus", json_object_new_int((int)h->default_vcpus));
	ADD(o, "default_maxvcpus", json_object_new_int((int)h->default_maxvcpus));
	ADD(o, "default_memory", json_object_new_int((int)h->default_memory));
	ADD(o, "shared_fs", STR(config_shared_fs_name(h->shared_fs)));
	if (qemu) {
		ADD(o, "virtio_fs_daemon", STR(h->virtio_fs_daemon));
		ADD(o, "accel", STR(h->accel));
	}
	ADD(o, "cpuid_mask", strv_json(h->cpuid_mask));
	ADD(o, "enable_debug", json_object_new_boolean(h->enable_debug));
	return o;
}

/* First line of `path --version`, or "" when it cannot run. */
static void version_of(const char *path, char *buf, size_t size)
{
	char cmd[4200];
	FILE *p;

	buf[0] = '\0';
	if (!*path || strchr(path, '\'') || access(path, X_OK) < 0)
		return;
	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", path);
	p = popen(cmd, "re");
	if (!p)
		return;
	if (!fgets(buf, (int)size, p))
		buf[0] = '\0';
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
}

static void add_asset(struct json_object *o, const struct config_hypervisor *h,
                      enum config_asset which, const char *key)
{
	char *path = NULL, k[32];
	const char *from;
	struct err e;

	snprintf(k, sizeof(k), "%s_from", key);
	if (config_asset(h, which, &path, &from, &e) < 0) {
		ADD(o, key, STR(""));
		ADD(o, k, STR(e.msg));
		return;
	}
	ADD(o, key, STR(path));
	ADD(o, k, STR(from));
	free(path);
}

static struct json_object *build(const struct cli_ctx *ctx, const struct config *c)
{
	struct json_object *root = json_object_new_object();
	struct json_object *hako = json_object_new_object(), *host = json_object_new_object();
	struct json_object *hv = json_object_new_object(), *agent = json_object_new_object();
	struct json_object *rt = json_object_new_object(), *agent_hako = json_object_new_object();
	struct config_host probe;
	struct config_choice choice;
	struct utsname un;
	char ver[256];
	struct err e;

	ADD(hako, "version", STR(HAKO_VERSION));
	ADD(hako, "oci_version", STR(BUNDLE_OCI_VERSION));
	ADD(hako, "config", STR(c->path ? c->path : ""));
	ADD(hako, "dropins", strv_json(c->dropins));
	ADD(hako, "state_root", STR(cli_root(ctx)));
	memset(&choice, 0, sizeof(choice));
	config_probe_host(&probe);
	if (config_choose_hypervisor(c, ctx->g.hypervisor, &probe, &choice, &e) < 0) {
		ADD(hako, "hypervisor", STR(""));
		ADD(hako, "hypervisor_reason", STR(e.msg));
	} else {
		ADD(hako, "hypervisor", STR(choice.hypervisor));
		ADD(hako, "accel", STR(choice.accel));
		ADD(hako, "hypervisor_reason", STR(choice.reason));
	}
	{
		const char *name = !strcmp(choice.hypervisor, "builtin") ? "builtin" : "qemu";

		add_asset(hako, config_hypervisor(c, name), CONFIG_ASSET_KERNEL, "kernel");
		add_asset(hako, config_hypervisor(c, name), CONFIG_ASSET_INITRD, "initrd");
	}
	version_of(c->qemu.path, ver, sizeof(ver));
	ADD(hako, "qemu_version", STR(ver));
	version_of(c->qemu.virtio_fs_daemon, ver, sizeof(ver));
	ADD(hako, "virtiofsd_version", STR(ver));
	ADD(root, "hako", hako);

	ADD(host, "kvm", json_object_new_boolean(probe.kvm));
	ADD(host, "kvm_pvm", json_object_new_boolean(probe.kvm_pvm));
	ADD(host, "hw_virt", json_object_new_boolean(probe.hw_virt));
	if (uname(&un) == 0)
		ADD(host, "kernel", STR(un.release));
	ADD(root, "host", host);

	ADD(hv, "builtin", hv_json(&c->builtin, false));
	ADD(hv, "qemu", hv_json(&c->qemu, true));
	ADD(root, "hypervisor", hv);
	ADD(agent_hako, "dial_timeout", json_object_new_int((int)c->agent.dial_timeout));
	ADD(agent_hako, "debug_console", json_object_new_boolean(c->agent.debug_console));
	ADD(agent_hako, "kernel_modules", strv_json(c->agent.kernel_modules));
	ADD(agent, "hako", agent_hako);
	ADD(root, "agent", agent);
	ADD(rt, "hypervisor_name", STR(c->runtime.hypervisor_name));
	ADD(rt, "internetworking_model", STR(c->runtime.internetworking_model));
	ADD(rt, "sandbox_cgroup_only", json_object_new_boolean(c->runtime.sandbox_cgroup_only));
	ADD(rt, "enable_debug", json_object_new_boolean(c->runtime.enable_debug));
	ADD(rt, "experimental", strv_json(c->runtime.experimental));
	ADD(rt, "test_only", json_object_new_boolean(c->runtime.test_only));
	ADD(root, "runtime", rt);
	return root;
}

static void toml_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void toml_scalar(FILE *f, struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "true" : "false", f);
		break;
	case json_type_int:
		fprintf(f, "%lld", (long long)json_object_get_int64(v));
		break;
	case json_type_array:
		fputc('[', f);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			fputs(i ? ", " : "", f);
			toml_scalar(f, json_object_array_get_idx(v, i));
		}
		fputc(']', f);
		break;
	default:
		toml_string(f, json_object_get_string(v));
		break;
	}
}

/* Keys of a table first, then its sub-tables as [a.b] sections. */
static void toml_table(FILE *f, struct json_object *o, const char *name)
{
	bool has_scalars = false;

	json_object_object_foreach(o, key, val)
	{
		if (json_object_is_type(val, json_type_object))
			continue;
		if (!has_scalars && *name)
			fprintf(f, "\n[%s]\n", name);
		has_scalars = true;
		fprintf(f, "%s = ", key);
		toml_scalar(f, val);
		fputc('\n', f);
	}
	json_object_object_foreach(o, sub, subval)
	{
		char path[256];

		if (!json_object_is_type(subval, json_type_object))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", name, *name ? "." : "", sub);
		toml_table(f, subval, path);
	}
}

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	struct config *c;
	struct json_object *o;

	if (cli_load_config(ctx, &c, e) < 0)
		return -1;
	o = build(ctx, c);
	config_free(c);
	if (!o)
		return err_set(e, ENOMEM, "out of memory");
	if (cli_has(args, 'j')) {
		fprintf(ctx->out, "%s\n",
		        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
		                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		fprintf(ctx->out,
		        "# hako env: the configuration in effect. [hako] and [host] are\n"
		        "# what hako found; the other sections are configuration.toml's.\n");
		toml_table(ctx->out, o, "");
	}
	json_object_put(o);
	return 0;
}

const struct cli_command cli_cmd_env = {
        .name = "env",
        .args = NULL,
        .summary = "show the configuration in effect, guest assets and hypervisor choice",
        .options = options,
        .min_args = 0,
        .max_args = 0,
        .run = run,
};
