/* cli/cmd_list.c: `hako list`: the containers under the state root, as a table
 * (runc's columns), as JSON, or only their ids. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "runtime/state.h"

static const struct cli_option options[] = {
        {"quiet", 'q', NULL, "print only the container ids"},
        {"format", 'f', "FORMAT", "table (default) or json"},
        {NULL, 0, NULL, NULL},
};

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	const char *format = cli_get(args, 'f');
	bool json = format && !strcmp(format, "json");
	struct json_object *all;
	char **ids;

	if (format && !json && strcmp(format, "table"))
		return err_set(e, EINVAL, "list: --format: \"%s\" is not table or json", format);
	if (state_list(cli_root(ctx), &ids, e) < 0)
		return -1;
	all = json_object_new_array();
	if (!all) {
		state_list_free(ids);
		return err_set(e, ENOMEM, "out of memory");
	}
	for (char **id = ids; *id; id++) {
		struct state *s;
		struct err ignored;
		struct json_object *o;

		/* Deleted between listing and reading: not an error. */
		if (state_load(cli_root(ctx), *id, &s, &ignored) < 0)
			continue;
		o = cli_state_json(s, cli_root(ctx));
		state_free(s);
		if (o)
			json_object_array_add(all, o);
	}
	state_list_free(ids);

	if (json) {
		fprintf(ctx->out, "%s\n",
		        json_object_to_json_string_ext(
		                all, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		bool quiet = cli_has(args, 'q');

		if (!quiet)
			fprintf(ctx->out, "%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID",
			        "STATUS", "BUNDLE", "CREATED", "OWNER");
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			struct json_object *o = json_object_array_get_idx(all, i), *v;
#define F(k) (json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "")
			if (quiet)
				fprintf(ctx->out, "%s\n", F("id"));
			else
				fprintf(ctx->out, "%-20s %-8s %-10s %-40s %-30s %s\n", F("id"),
				        F("pid"), F("status"), F("bundle"), F("created"),
				        F("owner"));
#undef F
		}
	}
	json_object_put(all);
	return 0;
}

const struct cli_command cli_cmd_list = {
        .name = "list",
        .args = NULL,
        .summary = "list the containers hako knows under the state root",
        .options = options,
        .min_args = 0,
        .max_args = 0,
        .run = run,
};
