/* lib/pbjson.h: protobuf-c messages <-> JSON (json-c), driven by the
 * protobuf-c descriptors, so any generated message converts without code
 * of its own. hako-agent-ctl uses the proto field names; the runtime and the
 * agent use PBJSON_OCI to turn a bundle's config.json into grpc.Spec and
 * back.
 *
 * Mapping: 32-bit integers, 64-bit integers (also read from decimal
 * strings), floats and bools as JSON numbers/booleans; strings as strings;
 * bytes as base64 strings; enums by value name (numbers accepted when read);
 * nested messages as objects; repeated fields as arrays; maps (which
 * protobuf-c represents as repeated key/value entry messages) as objects. A
 * JSON null reads as an absent field. */
#ifndef HAKO_LIB_PBJSON_H
#define HAKO_LIB_PBJSON_H

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"

enum pbjson_flags {
	/* OCI runtime-spec names for Kata's CamelCase grpc.Spec fields:
	 * the leading capital run is lowercased (Process -> process,
	 * OOMScoreAdj -> oomScoreAdj, UID -> uid, HostID -> hostID), plus
	 * exceptions: Spec.Version -> ociVersion, LinuxHugepageLimit.Pagesize
	 * -> pageSize, LinuxSyscall.errnoret -> errnoRet. */
	PBJSON_OCI = 1 << 0,
	/* Reading: ignore JSON keys the message has no field for (config.json
	 * has fields Kata's proto lacks); without it they are an error naming
	 * the key's path. */
	PBJSON_LENIENT = 1 << 1,
	/* Writing: also emit fields at their default (0, "", false, empty
	 * repeated). Without it they are left out, except that PBJSON_OCI
	 * always writes ociVersion, root.path, process.cwd and user.uid/gid,
	 * which config.json requires. Absent submessages are never written. */
	PBJSON_DEFAULTS = 1 << 2,
	/* pbjson_to_string: indent. */
	PBJSON_PRETTY = 1 << 3,
};

/* msg -> a new JSON object (release with json_object_put). */
int pbjson_to_json(const ProtobufCMessage *msg, int flags, struct json_object **out, struct err *e);
/* JSON object -> a new message of type desc (free with
 * protobuf_c_message_free_unpacked(msg, NULL)). Errors name the key path,
 * e.g. "linux.resources.memory.limit: expected an integer". */
int pbjson_from_json(const ProtobufCMessageDescriptor *desc, struct json_object *obj, int flags,
                     ProtobufCMessage **out, struct err *e);

/* The same through text; *out is malloc'd. */
int pbjson_to_string(const ProtobufCMessage *msg, int flags, char **out, struct err *e);
int pbjson_from_string(const ProtobufCMessageDescriptor *desc, const char *json, int flags,
                       ProtobufCMessage **out, struct err *e);

#endif
