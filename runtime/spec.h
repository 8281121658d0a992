/* runtime/spec.h: an OCI runtime spec (config.json) as the agent API's
 * grpc.Spec (through lib/pbjson), and the changes the runtime makes before
 * sending it. */
#ifndef HAKO_RUNTIME_SPEC_H
#define HAKO_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "proto/oci.pb-c.h"

struct json_object;

/* config.json as parsed by json-c (not consumed). Keys Kata's grpc.Spec
 * has no field for are skipped. When it has device rules, runc's default
 * allowed devices (null, zero, full, random, urandom, tty, ptmx, pts,
 * mknod of any) follow them, as runc does. Free with spec_free. */
int spec_from_json_object(struct json_object *config, Grpc__Spec **out, struct err *e);
/* The same from text. */
int spec_from_json(const char *json, Grpc__Spec **out, struct err *e);
/* The default spec (runc's, as `hako spec` writes it) running argv, with a
 * terminal or not. */
int spec_for_command(char *const *argv, size_t argc, bool terminal, Grpc__Spec **out,
                     struct err *e);
/* Set root.path (the root as the guest sees it) and root.readonly. */
int spec_set_root(Grpc__Spec *spec, const char *path, bool readonly, struct err *e);
/* Is m a bind mount (type "bind", or a "bind"/"rbind" option)? */
bool spec_mount_is_bind(const Grpc__Mount *m);
/* Replace m's type and source (NULL: keep), and its options when options
 * is not NULL. */
int spec_mount_replace(Grpc__Mount *m, const char *type, const char *source,
                       const char *const *options, size_t nr_options, struct err *e);
void spec_free(Grpc__Spec *spec);

#endif
