/* tests/fuzz/fuzz_pbjson.c: libFuzzer target for lib/pbjson's JSON ->
 * message path (what the runtime runs on a bundle's config.json): parse as
 * grpc.Spec with OCI names, strict and lenient, and as an agent request;
 * whatever parses must convert back to JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pbjson.h"
#include "proto/agent.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const ProtobufCMessageDescriptor *d, const char *text, int flags)
{
	ProtobufCMessage *m;
	struct err e;
	char *out;

	if (pbjson_from_string(d, text, flags, &m, &e) < 0)
		return;
	if (pbjson_to_string(m, flags, &out, &e) < 0)
		abort();
	free(out);
	protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	one(&grpc__spec__descriptor, text, PBJSON_OCI);
	one(&grpc__spec__descriptor, text, PBJSON_OCI | PBJSON_LENIENT | PBJSON_DEFAULTS);
	one(&grpc__create_container_request__descriptor, text, 0);
	one(&grpc__stats_container_response__descriptor, text, PBJSON_LENIENT);
	free(text);
	return 0;
}
