/* runtime/spec.c: OCI spec handling on the way to the agent. Messages are
 * allocated with malloc (protobuf-c's default allocator), so fields may be
 * replaced with free/strdup and the whole freed with free_unpacked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spec.h"

static void free_str(char *s)
{
	if (s && s != protobuf_c_empty_string)
		free(s);
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
