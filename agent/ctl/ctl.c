/* agent/ctl/ctl.c: hako-agent-ctl, calls one agent RPC with a request built
 * from JSON and prints the response as JSON: a debugging and test tool in
 * the manner of Kata's kata-agent-ctl. The method table is the services'
 * protobuf-c descriptors, so every RPC in proto/agent.proto is callable. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hvsock.h"
#include "lib/log.h"
#include "lib/pbjson.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/health.pb-c.h"

#define INPUT_MAX (TTRPC_MAX_MESSAGE_SIZE * 2)

static const ProtobufCServiceDescriptor *const services[] = {
        &grpc__agent_service__descriptor,
        &grpc__health__descriptor,
};

static const ProtobufCMethodDescriptor *find_method(const char *name,
                                                    const ProtobufCServiceDescriptor **svc)
{
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		for (unsigned j = 0; j < services[i]->n_methods; j++) {
			if (!strcmp(services[i]->methods[j].name, name)) {
				*svc = services[i];
				return &services[i]->methods[j];
			}
		}
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hako-agent-ctl --addr ADDR [--timeout MS] [--spec CONFIG.JSON] "
	           "[--pretty] METHOD [JSON]\n"
	           "\n"
	           "Call METHOD on the agent at ADDR (unix:PATH or hvsock:UDS:PORT) with the\n"
	           "request given as JSON (proto field names; default {}; @FILE reads a file,\n"
	           "- reads stdin) and print the response as JSON. --spec puts an OCI\n"
	           "config.json into the request's grpc.Spec field (CreateContainer's OCI).\n"
	           "On an error status, prints CODE: message and exits 1.\n"
	           "\n"
	           "methods:\n");
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		for (unsigned j = 0; j < services[i]->n_methods; j++)
			fprintf(f, "  %-18s %s -> %s  (%s)\n", services[i]->methods[j].name,
			        services[i]->methods[j].input->name,
			        services[i]->methods[j].output->name, services[i]->name);
}

/* "{...}", "@FILE" or "-" (stdin) -> malloc'd text. */
static int read_input(const char *arg, char **out, struct err *e)
{
	size_t len;

	if (arg[0] == '@')
		return util_read_file(arg + 1, INPUT_MAX, out, &len, e);
	if (!strcmp(arg, "-"))
		return util_read_file("/dev/stdin", INPUT_MAX, out, &len, e);
	*out = strdup(arg);
	return *out ? 0 : err_set(e, ENOMEM, "out of memory");
}

/* Set the request's grpc.Spec field from an OCI config.json. */
static int put_spec(ProtobufCMessage *req, const char *path, struct err *e)
{
	const ProtobufCMessageDescriptor *d = req->descriptor;
	cleanup_free char *text = NULL;
	ProtobufCMessage *spec, **slot;
	size_t len;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED ||
		    f->descriptor != &grpc__spec__descriptor)
			continue;
		if (util_read_file(path, INPUT_MAX, &text, &len, e) < 0 ||
		    pbjson_from_string(&grpc__spec__descriptor, text, PBJSON_OCI | PBJSON_LENIENT,
		                       &spec, e) < 0)
			return err_ctx(e, "--spec %s", path);
		slot = (ProtobufCMessage **)((char *)req + f->offset);
		if (*slot)
			protobuf_c_message_free_unpacked(*slot, NULL);
		*slot = spec;
		return 0;
	}
	return err_set(e, EINVAL, "--spec: %s has no grpc.Spec field", d->name);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"addr", required_argument, NULL, 'a'}, {"timeout", required_argument, NULL, 't'},
	        {"spec", required_argument, NULL, 's'}, {"pretty", no_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *addr = NULL, *spec = NULL;
	const ProtobufCServiceDescriptor *svc = NULL;
	const ProtobufCMethodDescriptor *m;
	ProtobufCMessage *req = NULL, *resp = NULL;
	struct ttrpc_client *client = NULL;
	cleanup_free char *input = NULL, *out = NULL;
	int timeout_ms = 30000, flags = PBJSON_DEFAULTS, c, fd, rc = 1;
	struct err e;

	log_set_name("hako-agent-ctl");
	while ((c = getopt_long(argc, argv, "+a:t:s:ph", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 's':
			spec = optarg;
			break;
		case 'p':
			flags |= PBJSON_PRETTY;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!addr || optind >= argc || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	m = find_method(argv[optind], &svc);
	if (!m) {
		fprintf(stderr, "hako-agent-ctl: unknown method '%s' (--help lists them)\n",
		        argv[optind]);
		return 2;
	}
	if (read_input(optind + 1 < argc ? argv[optind + 1] : "{}", &input, &e) < 0 ||
	    pbjson_from_string(m->input, input, 0, &req, &e) < 0) {
		fprintf(stderr, "hako-agent-ctl: %s request: %s\n", m->name, e.msg);
		return 2;
	}
	if (spec && put_spec(req, spec, &e) < 0) {
		fprintf(stderr, "hako-agent-ctl: %s\n", e.msg);
		goto out;
	}
	if (hvsock_addr_dial(addr, timeout_ms, &fd, &e) < 0 ||
	    ttrpc_client_new(&client, fd, &e) < 0) {
		fprintf(stderr, "hako-agent-ctl: %s\n", e.msg);
		goto out;
	}
	c = ttrpc_client_call(client, svc->name, m->name, req, m->output, &resp, timeout_ms, &e);
	if (c > 0) {
		fprintf(stderr, "%s: %s\n", ttrpc_code_name(c), e.msg);
		goto out;
	}
	if (c < 0 || pbjson_to_string(resp, flags, &out, &e) < 0) {
		fprintf(stderr, "hako-agent-ctl: %s\n", e.msg);
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	ttrpc_client_free(client);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}
