/* runtime/spec.h: an OCI runtime spec (config.json) as the agent API's
 * grpc.Spec, and the changes the runtime makes before sending it. */
#ifndef HAKO_RUNTIME_SPEC_H
#define HAKO_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "proto/oci.pb-c.h"

/* Set root.path (the root as the guest sees it) and root.readonly. */
int spec_set_root(Grpc__Spec *spec, const char *path, bool readonly, struct err *e);
void spec_free(Grpc__Spec *spec);

#endif
