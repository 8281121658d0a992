/* runtime/spec.c: OCI spec handling on the way to the agent. Messages are
 * allocated with malloc (protobuf-c's default allocator, which lib/pbjson
 * uses too), so fields may be replaced with free/strdup and the whole freed
 * with free_unpacked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/pbjson.h"
#include "lib/util.h"
#include "runtime/bundle.h"
#include "runtime/spec.h"

static void free_str(char *s)
{
	if (s && s != protobuf_c_empty_string)
		free(s);
}

int spec_from_json_object(struct json_object *config, Grpc__Spec **out, struct err *e)
{
	ProtobufCMessage *m;

	if (pbjson_from_json(&grpc__spec__descriptor, config, PBJSON_OCI | PBJSON_LENIENT, &m, e) <
	    0)
		return err_ctx(e, "config.json");
	*out = (Grpc__Spec *)m;
	return 0;
}

int spec_from_json(const char *json, Grpc__Spec **out, struct err *e)
{
	enum json_tokener_error jerr;
	struct json_object *o = json_tokener_parse_verbose(json, &jerr);
	int r;

	if (!o)
		return err_set(e, EINVAL, "config.json: %s", json_tokener_error_desc(jerr));
	r = spec_from_json_object(o, out, e);
	json_object_put(o);
	return r;
}

int spec_for_command(char *const *argv, size_t argc, bool terminal, Grpc__Spec **out, struct err *e)
{
	cleanup_free char *json = NULL;
	Grpc__Spec *spec;
	Grpc__Process *p;
	char **args;

	if (!argc)
		return err_set(e, EINVAL, "spec: no command");
	if (bundle_default_spec(&json, e) < 0 || spec_from_json(json, &spec, e) < 0)
		return err_ctx(e, "default spec");
	p = spec->process;
	args = calloc(argc, sizeof(*args));
	if (!p || !args) {
		free(args);
		spec_free(spec);
		return err_set(e, p ? ENOMEM : EINVAL, "default spec: %s",
		               p ? "out of memory" : "no process");
	}
	for (size_t i = 0; i < argc; i++) {
		args[i] = strdup(argv[i]);
		if (!args[i]) {
			while (i--)
				free(args[i]);
			free(args);
			spec_free(spec);
			return err_set(e, ENOMEM, "spec: out of memory");
		}
	}
	for (size_t i = 0; i < p->n_args; i++)
		free_str(p->args[i]);
	free(p->args);
	p->args = args;
	p->n_args = argc;
	p->terminal = terminal;
	*out = spec;
	return 0;
}

int spec_set_root(Grpc__Spec *spec, const char *path, bool readonly, struct err *e)
{
	char *p = strdup(path);

	if (!p)
		return err_set(e, ENOMEM, "spec: out of memory");
	if (!spec->root) {
		spec->root = malloc(sizeof(*spec->root));
		if (!spec->root) {
			free(p);
			return err_set(e, ENOMEM, "spec: out of memory");
		}
		grpc__root__init(spec->root);
	}
	free_str(spec->root->path);
	spec->root->path = p;
	spec->root->readonly = readonly;
	return 0;
}

void spec_free(Grpc__Spec *spec)
{
	if (spec)
		protobuf_c_message_free_unpacked(&spec->base, NULL);
}
