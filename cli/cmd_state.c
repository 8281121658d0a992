/* cli/cmd_state.c: `hako state ID`: runc's state JSON for one container. */
#include <errno.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "runtime/state.h"

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	struct state *s;
	struct json_object *o;

	if (state_load(cli_root(ctx), args->argv[0], &s, e) < 0)
		return -1;
	o = cli_state_json(s, cli_root(ctx));
	state_free(s);
	if (!o)
		return err_set(e, ENOMEM, "out of memory");
	fprintf(ctx->out, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

const struct cli_command cli_cmd_state = {
        .name = "state",
        .args = "<container-id>",
        .summary = "print the state of a container as JSON",
        .options = NULL,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
