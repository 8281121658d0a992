/* cli/cmd_update.c: `hako update [options] ID`: change a running
 * container's cgroup limits (in the guest), from a linux.resources JSON
 * file or from runc's flags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "lib/util.h"
#include "runtime/state.h"

enum {
	O_RESOURCES = 'r',
	O_MEMORY = CLI_LONG_ONLY,
	O_CPU_QUOTA,
	O_CPU_PERIOD,
	O_CPU_SHARES,
	O_PIDS_LIMIT,
};

static const struct cli_option options[] = {
        {"resources", O_RESOURCES, "FILE", "linux.resources as JSON (\"-\": stdin)"},
        {"memory", O_MEMORY, "BYTES", "memory limit"},
        {"cpu-quota", O_CPU_QUOTA, "US", "CPU CFS quota per period"},
        {"cpu-period", O_CPU_PERIOD, "US", "CPU CFS period"},
        {"cpu-shares", O_CPU_SHARES, "N", "CPU shares (relative weight)"},
        {"pids-limit", O_PIDS_LIMIT, "N", "maximum number of processes"},
        {NULL, 0, NULL, NULL},
};

static int number(const char *opt, const char *s, long long *out, struct err *e)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || !*s || *end)
		return err_set(e, EINVAL, "update: --%s wants a number, not '%s'", opt, s);
	return 0;
}

/* {"section": {"key": n}}, creating the section. */
static void set(struct json_object *res, const char *section, const char *key, long long n)
{
	struct json_object *sec;

	if (!json_object_object_get_ex(res, section, &sec)) {
		sec = json_object_new_object();
		json_object_object_add(res, section, sec);
	}
	json_object_object_add(sec, key, json_object_new_int64(n));
}

static int resources_json(const struct cli_args *a, char **out, struct err *e)
{
	static const struct {
		int key;
		const char *opt, *section, *field;
	} flags[] = {
	        {O_MEMORY, "memory", "memory", "limit"},
	        {O_CPU_QUOTA, "cpu-quota", "cpu", "quota"},
	        {O_CPU_PERIOD, "cpu-period", "cpu", "period"},
	        {O_CPU_SHARES, "cpu-shares", "cpu", "shares"},
	        {O_PIDS_LIMIT, "pids-limit", "pids", "limit"},
	};
	struct json_object *res;
	const char *text;
	long long n;
	int r = -1;

	if (cli_get(a, O_RESOURCES)) {
		const char *path = cli_get(a, O_RESOURCES);
		cleanup_free char *buf = NULL;
		size_t len;

		if (util_read_file(strcmp(path, "-") ? path : "/dev/stdin", 1 << 20, &buf, &len,
		                   e) < 0)
			return -1;
		res = json_tokener_parse(buf);
		if (!res || !json_object_is_type(res, json_type_object)) {
			json_object_put(res);
			return err_set(e, EINVAL, "update: %s: not a JSON object", path);
		}
	} else {
		res = json_object_new_object();
	}
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		if (!cli_get(a, flags[i].key))
			continue;
		if (number(flags[i].opt, cli_get(a, flags[i].key), &n, e) < 0)
			goto out;
		set(res, flags[i].section, flags[i].field, n);
	}
	if (!json_object_object_length(res)) {
		err_set(e, EINVAL, "update: nothing to change (see hako update --help)");
		goto out;
	}
	text = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN);
	*out = text ? strdup(text) : NULL;
	r = *out ? 0 : err_set(e, ENOMEM, "out of memory");
out:
	json_object_put(res);
	return r;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	cleanup_free char *json = NULL, *cmd = NULL;
	enum state_status status;
	struct state *s;

	if (state_load(cli_root(ctx), a->argv[0], &s, e) < 0)
		return -1;
	status = s->status;
	state_free(s);
	if (status == STATE_STOPPED)
		return err_set(e, EINVAL, "container %s is not running", a->argv[0]);
	if (resources_json(a, &json, e) < 0)
		return -1;
	if (asprintf(&cmd, "update %s", json) < 0) {
		cmd = NULL;
		return err_set(e, ENOMEM, "out of memory");
	}
	return vm_control(ctx, a->argv[0], cmd, e);
}

const struct cli_command cli_cmd_update = {
        .name = "update",
        .args = "<container-id>",
        .summary = "change a container's resource limits",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
