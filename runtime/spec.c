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

/* The devices runc allows after a spec's device rules, whatever they say
 * (its specconv's AllowedDevices; Kata's agent does the same): podman's
 * spec only denies every device and relies on them, e.g. a terminal opens
 * /dev/ptmx. -1: any. */
static const struct {
	char type;
	int64_t major, minor;
	const char *access;
} default_devices[] = {
        {'c', -1, -1, "m"},    {'b', -1, -1, "m"}, {'c', 1, 3, "rwm"}, {'c', 1, 8, "rwm"},
        {'c', 1, 7, "rwm"},    {'c', 5, 0, "rwm"}, {'c', 1, 5, "rwm"}, {'c', 1, 9, "rwm"},
        {'c', 136, -1, "rwm"}, {'c', 5, 2, "rwm"},
};

static int add_default_devices(Grpc__LinuxResources *r, struct err *e)
{
	size_t n = sizeof(default_devices) / sizeof(default_devices[0]);
	Grpc__LinuxDeviceCgroup **v = realloc(r->devices, (r->n_devices + n) * sizeof(*v));

	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	r->devices = v;
	for (size_t i = 0; i < n; i++) {
		Grpc__LinuxDeviceCgroup *d = malloc(sizeof(*d));
		char type[2] = {default_devices[i].type, 0};

		if (!d)
			return err_set(e, ENOMEM, "out of memory");
		grpc__linux_device_cgroup__init(d);
		d->allow = 1;
		d->major = default_devices[i].major;
		d->minor = default_devices[i].minor;
		d->type = strdup(type);
		d->access = strdup(default_devices[i].access);
		r->devices[r->n_devices++] = d;
		if (!d->type || !d->access)
			return err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

int spec_from_json_object(struct json_object *config, Grpc__Spec **out, struct err *e)
{
	ProtobufCMessage *m;
	Grpc__Spec *s;

	if (pbjson_from_json(&grpc__spec__descriptor, config, PBJSON_OCI | PBJSON_LENIENT, &m, e) <
	    0)
		return err_ctx(e, "config.json");
	s = (Grpc__Spec *)m;
	if (s->linux && s->linux->resources && s->linux->resources->n_devices &&
	    add_default_devices(s->linux->resources, e) < 0) {
		spec_free(s);
		return -1;
	}
	*out = s;
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

bool spec_mount_is_bind(const Grpc__Mount *m)
{
	if (m->type && !strcmp(m->type, "bind"))
		return true;
	for (size_t i = 0; i < m->n_options; i++)
		if (!strcmp(m->options[i], "bind") || !strcmp(m->options[i], "rbind"))
			return true;
	return false;
}

static int replace_str(char **field, const char *value, struct err *e)
{
	char *v;

	if (!value)
		return 0;
	v = strdup(value);
	if (!v)
		return err_set(e, ENOMEM, "spec: out of memory");
	free_str(*field);
	*field = v;
	return 0;
}

int spec_mount_replace(Grpc__Mount *m, const char *type, const char *source,
                       const char *const *options, size_t nr_options, struct err *e)
{
	char **opts = NULL;

	if (options) {
		opts = calloc(nr_options ? nr_options : 1, sizeof(*opts));
		if (!opts)
			return err_set(e, ENOMEM, "spec: out of memory");
		for (size_t i = 0; i < nr_options; i++) {
			opts[i] = strdup(options[i]);
			if (!opts[i]) {
				while (i--)
					free(opts[i]);
				free(opts);
				return err_set(e, ENOMEM, "spec: out of memory");
			}
		}
	}
	if (replace_str(&m->type, type, e) < 0 || replace_str(&m->source, source, e) < 0) {
		for (size_t i = 0; opts && i < nr_options; i++)
			free(opts[i]);
		free(opts);
		return -1;
	}
	if (options) {
		for (size_t i = 0; i < m->n_options; i++)
			free_str(m->options[i]);
		free(m->options);
		m->options = opts;
		m->n_options = nr_options;
	}
	return 0;
}

void spec_free(Grpc__Spec *spec)
{
	if (spec)
		protobuf_c_message_free_unpacked(&spec->base, NULL);
}
