/* cli/cmd_events.c: `hako events [--stats] [--interval N] ID`: the
 * container's resource usage (cgroup stats from the guest) as runc's
 * events JSON, once with --stats, else every interval until it stops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "runtime/state.h"

enum { O_STATS = CLI_LONG_ONLY, O_INTERVAL };

static const struct cli_option options[] = {
        {"stats", O_STATS, NULL, "print the stats once and exit"},
        {"interval", O_INTERVAL, "SECONDS", "time between two stats (default 5)"},
        {NULL, 0, NULL, NULL},
};

static int print_stats(struct cli_ctx *ctx, const char *id, struct err *e)
{
	struct json_object *ev, *data;
	char *json = NULL;

	if (vm_request(ctx, id, "stats", &json, e) < 0)
		return -1;
	data = json_tokener_parse(json);
	free(json);
	if (!data)
		return err_set(e, EPROTO, "events: the monitor sent no JSON");
	ev = json_object_new_object();
	json_object_object_add(ev, "type", json_object_new_string("stats"));
	json_object_object_add(ev, "id", json_object_new_string(id));
	json_object_object_add(ev, "data", data);
	fprintf(ctx->out, "%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	fflush(ctx->out);
	json_object_put(ev);
	return 0;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	const char *id = a->argv[0];
	long interval = 5;
	struct state *s;
	bool stopped;

	if (cli_get(a, O_INTERVAL)) {
		char *end;

		interval = strtol(cli_get(a, O_INTERVAL), &end, 10);
		if (*end || interval <= 0)
			return err_set(e, EINVAL, "events: invalid --interval %s",
			               cli_get(a, O_INTERVAL));
	}
	for (;;) {
		if (state_load(cli_root(ctx), id, &s, e) < 0)
			return -1;
		stopped = s->status == STATE_STOPPED;
		state_free(s);
		if (stopped)
			return cli_has(a, O_STATS)
			               ? err_set(e, EINVAL, "container %s is not running", id)
			               : 0;
		if (print_stats(ctx, id, e) < 0)
			return -1;
		if (cli_has(a, O_STATS))
			return 0;
		sleep((unsigned int)interval);
	}
}

const struct cli_command cli_cmd_events = {
        .name = "events",
        .args = "<container-id>",
        .summary = "show the container's resource usage (stats) as JSON",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
