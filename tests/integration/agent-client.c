/* tests/integration/agent-client.c: drives a hako-agent through a container
 * lifecycle over ttrpc and checks every answer. Works against a host-mode
 * agent (unix:PATH) or one inside a VM (hvsock:UDS:1024, unix:PATH of a
 * virtio-serial socket); see tests/integration/agent-host.sh.
 *
 *   agent-client --addr ADDR --rootfs DIR [--cgroup-root /sys/fs/cgroup]
 *                [--cgroup-prefix /hako-test] [--agent-pid PID] [--host-mode]
 *                [--rootfs-blk /dev/vda:ext4]
 *
 * DIR is the busybox rootfs as the agent sees it. --cgroup-root turns on
 * checks that read the container's cgroup files directly (the agent runs on
 * this machine); --agent-pid checks that the agent holds no more fds at the
 * end than after its first answer; --host-mode expects the refusals of a
 * host-mode agent (clock, CopyFile outside /run). Prints TAP lines; exit 0
 * when all pass. The first container's rootfs is DIR through a "bind"
 * storage, or with --rootfs-blk a block device (same content) mounted
 * read-only under an overlay on an "ephemeral" tmpfs. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/hvsock.h"
#include "lib/pbjson.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/empty.pb-c.h"
#include "proto/health.pb-c.h"

#define AGENT      "grpc.AgentService"
#define HEALTH     "grpc.Health"
#define TIMEOUT_MS 60000

static struct {
	struct ttrpc_client *c;
	const char *rootfs;
	const char *cgroup_root;
	const char *prefix;
	int agent_pid;
	int host_mode;                       /* the agent runs on this host (--host-mode) */
	const char *blk_device, *blk_fstype; /* --rootfs-blk DEV:FSTYPE */
	int v1;                              /* cgroup v1 layout under cgroup_root */
	int n, failed;
} t = {.prefix = "/hako-test"};

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++t.n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		t.failed++;
}

/* Call; returns the status code (0 OK, >0 gRPC code, -1 transport) and
 * keeps the error text in *msg. */
static int call(const char *svc, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp, char *msg)
{
	struct err e = {0};
	ProtobufCMessage *r = NULL;
	int rc = ttrpc_client_call(t.c, svc, method, req,
	                           rd ? rd : &google__protobuf__empty__descriptor, &r, TIMEOUT_MS,
	                           &e);

	if (msg)
		snprintf(msg, ERR_MSG_MAX, "%s", e.msg);
	if (rc == 0 && resp)
		*resp = r;
	else if (r)
		protobuf_c_message_free_unpacked(r, NULL);
	if (rc != 0)
		fprintf(stderr, "# %s: %s (%d)\n", method, e.msg, rc);
	return rc;
}

static int call_ok(const char *method, const ProtobufCMessage *req)
{
	return call(AGENT, method, req, NULL, NULL, NULL);
}

/* What differs between the test containers; NULL fields take defaults.
 * The *_extra strings are spliced in as they are (start them with ','). */
struct spec_opts {
	const char *root;
	const char *resources;
	const char *user;          /* "process.user" object */
	const char *caps_extra;    /* more "process.capabilities" sets */
	const char *process_extra; /* more "process" fields */
	const char *mount_extra;   /* more "mounts" entries */
	const char *ns_extra;      /* more "linux.namespaces" entries */
	const char *linux_extra;   /* more "linux" fields */
	int tty;
	int readonly; /* root.readonly */
};

static char *spec_json(const char *id, const char *args_json, const struct spec_opts *o)
{
	char *s = NULL;
	int n = asprintf(
	        &s,
	        "{\"ociVersion\":\"1.1.0\","
	        "\"process\":{\"terminal\":%s,\"user\":%s,\"args\":%s,"
	        " \"env\":[\"PATH=/bin:/sbin:/usr/bin\",\"HOME=/\",\"TERM=xterm\"],\"cwd\":\"/\","
	        " \"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\","
	        "\"CAP_SETGID\",\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"],"
	        "  \"effective\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\",\"CAP_SETGID\","
	        "\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"],"
	        "  \"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\",\"CAP_SETGID\","
	        "\"CAP_DAC_OVERRIDE\",\"CAP_SYS_ADMIN\"]%s},"
	        " \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
	        " \"noNewPrivileges\":true%s},"
	        "\"root\":{\"path\":\"%s\",\"readonly\":%s},"
	        "\"hostname\":\"%s\","
	        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	        " {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	        "  \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	        " {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\","
	        "\"mode=0620\"]},"
	        " {\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	        " {\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
	        "  \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}%s],"
	        "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":"
	        "\"uts\"},"
	        " {\"type\":\"mount\"},{\"type\":\"network\"}%s],"
	        " \"cgroupsPath\":\"%s/%s\","
	        " \"resources\":%s,"
	        " \"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\"],"
	        " \"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\"],"
	        " \"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	        "  \"architectures\":[\"SCMP_ARCH_X86_64\"],"
	        "  \"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\","
	        "   \"errnoRet\":1}]}%s}}",
	        o->tty ? "true" : "false", o->user ? o->user : "{\"uid\":0,\"gid\":0}", args_json,
	        o->caps_extra ? o->caps_extra : "", o->process_extra ? o->process_extra : "",
	        o->root ? o->root : t.rootfs, o->readonly ? "true" : "false", id,
	        o->mount_extra ? o->mount_extra : "", o->ns_extra ? o->ns_extra : "", t.prefix, id,
	        o->resources ? o->resources : "{}", o->linux_extra ? o->linux_extra : "");

	return n < 0 ? NULL : s;
}

static Grpc__Spec *make_spec(const char *id, const char *args_json, const struct spec_opts *o)
{
	char *json = spec_json(id, args_json, o);
	ProtobufCMessage *m = NULL;
	struct err e = {0};

	if (!json || pbjson_from_string(&grpc__spec__descriptor, json, PBJSON_OCI, &m, &e) < 0) {
		fprintf(stderr, "# spec for %s: %s\n", id, e.msg);
		free(json);
		return NULL;
	}
	free(json);
	return (Grpc__Spec *)m;
}

static int create_opts(const char *id, const char *args_json, const struct spec_opts *o, char *msg)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	int rc;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.oci = make_spec(id, args_json, o);
	if (!req.oci)
		return -1;
	rc = call(AGENT, "CreateContainer", &req.base, NULL, NULL, msg);
	protobuf_c_message_free_unpacked(&req.oci->base, NULL);
	return rc;
}

static int create(const char *id, const char *args_json, const char *resources, char *msg)
{
	struct spec_opts o = {.resources = resources};

	return create_opts(id, args_json, &o, msg);
}

static int simple(const char *method, const char *id)
{
	/* Start/Remove/Pause/Resume/Stats requests share the layout
	 * {string container_id = 1}: use StartContainerRequest's. */
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	return call_ok(method, &req.base);
}

/* ReadStdout/ReadStderr until EOF (an empty answer); NULL on error. */
static char *read_all(const char *method, const char *id, const char *exec)
{
	char *out = calloc(1, 1);
	size_t len = 0;

	for (;;) {
		Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
		Grpc__ReadStreamResponse *resp = NULL;
		char *n;

		req.container_id = (char *)id;
		req.exec_id = (char *)exec;
		req.len = 4096;
		if (call(AGENT, method, &req.base, &grpc__read_stream_response__descriptor,
		         (ProtobufCMessage **)&resp, NULL) != 0) {
			free(out);
			return NULL;
		}
		if (resp->data.len == 0) {
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			return out;
		}
		n = realloc(out, len + resp->data.len + 1);
		if (!n) {
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			free(out);
			return NULL;
		}
		out = n;
		memcpy(out + len, resp->data.data, resp->data.len);
		len += resp->data.len;
		out[len] = '\0';
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
}

static int wait_status(const char *id, const char *exec)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__WaitProcessResponse *resp = NULL;
	int st;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	if (call(AGENT, "WaitProcess", &req.base, &grpc__wait_process_response__descriptor,
	         (ProtobufCMessage **)&resp, NULL) != 0)
		return -1000;
	st = resp->status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return st;
}

static int exec_proc(const char *id, const char *exec, const char *args_json, int tty)
{
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	struct spec_opts o = {.tty = tty};
	Grpc__Spec *spec = make_spec(id, args_json, &o);
	int rc;

	if (!spec)
		return -1;
	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	req.process = spec->process;
	rc = call_ok("ExecProcess", &req.base);
	protobuf_c_message_free_unpacked(&spec->base, NULL);
	return rc;
}

static int signal_proc(const char *id, const char *exec, int sig)
{
	Grpc__SignalProcessRequest req = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	req.container_id = (char *)id;
	req.exec_id = (char *)exec;
	req.signal = (uint32_t)sig;
	return call_ok("SignalProcess", &req.base);
}

static char *cg_read(const char *ctrl, const char *id, const char *file)
{
	char path[512], *text = NULL;

	if (t.v1)
		snprintf(path, sizeof(path), "%s/%s%s/%s/%s", t.cgroup_root, ctrl, t.prefix, id,
		         file);
	else
		snprintf(path, sizeof(path), "%s%s/%s/%s", t.cgroup_root, t.prefix, id, file);
	if (util_read_file(path, 4096, &text, NULL, NULL) < 0)
		return NULL;
	return text;
}

static int count_fds(int pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_health(void)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	Grpc__HealthCheckResponse *h = NULL;
	Grpc__VersionCheckResponse *v = NULL;

	int rc;

	rc = call(HEALTH, "Check", &req.base, &grpc__health_check_response__descriptor,
	          (ProtobufCMessage **)&h, NULL);
	check(rc == 0 && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING,
	      "Health.Check answers SERVING");
	rc = call(HEALTH, "Version", &req.base, &grpc__version_check_response__descriptor,
	          (ProtobufCMessage **)&v, NULL);
	check(rc == 0 && v->agent_version[0], "Health.Version names the agent version (%s)",
	      v ? v->agent_version : "?");
	if (h)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	if (v)
		protobuf_c_message_free_unpacked(&v->base, NULL);
}

static int copy_file(const char *path, const char *data, char *msg)
{
	Grpc__CopyFileRequest req = GRPC__COPY_FILE_REQUEST__INIT;

	req.path = (char *)path;
	req.file_size = (int64_t)strlen(data);
	req.file_mode = 0100644;
	req.dir_mode = 0755;
	req.data.data = (uint8_t *)data;
	req.data.len = strlen(data);
	return call(AGENT, "CopyFile", &req.base, NULL, NULL, msg);
}

/* c1's rootfs arrives as a storage (a bind in host mode), a file put there
 * by CopyFile is bind-mounted in, and the process runs to its exit. */
static void test_run_to_exit(void)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Storage st = GRPC__STORAGE__INIT, blk = GRPC__STORAGE__INIT;
	Grpc__Storage upper = GRPC__STORAGE__INIT, *sts[] = {&blk, &upper, &st};
	char *ro[] = {"ro"};
	char *ovl[] = {"lowerdir=/run/hako-test/c1-lower", "upperdir=/run/hako-test/c1-upper/u",
	               "workdir=/run/hako-test/c1-upper/w"};
	struct spec_opts o = {0};
	char *out, *err, msg[ERR_MSG_MAX];

	check(copy_file("/run/hako-test/copied.txt", "copied-ok\n", msg) == 0, "CopyFile");
	if (t.host_mode)
		check(copy_file("/etc/hako-test-copy", "x", msg) == TTRPC_PERMISSION_DENIED,
		      "host mode: CopyFile outside /run is refused (%s)", msg);
	if (t.blk_device) {
		/* A read-only filesystem image under a writable overlay. */
		blk.driver = "blk";
		blk.source = (char *)t.blk_device;
		blk.fstype = (char *)t.blk_fstype;
		blk.options = ro;
		blk.n_options = 1;
		blk.mount_point = "/run/hako-test/c1-lower";
		upper.driver = "ephemeral";
		upper.source = "tmpfs";
		upper.fstype = "tmpfs";
		upper.mount_point = "/run/hako-test/c1-upper";
		st.driver = "overlayfs";
		st.source = "overlay";
		st.fstype = "overlay";
		st.options = ovl;
		st.n_options = 3;
		req.n_storages = 3;
	} else {
		st.driver = "bind";
		st.source = (char *)t.rootfs;
		st.fstype = "bind";
		req.n_storages = 1;
		sts[0] = &st;
	}
	st.mount_point = "/run/hako-test/c1-rootfs";
	req.container_id = "c1";
	req.exec_id = "c1";
	req.storages = sts;
	o.root = st.mount_point;
	o.mount_extra = ",{\"destination\":\"/copied.txt\",\"type\":\"bind\","
	                "\"source\":\"/run/hako-test/copied.txt\",\"options\":[\"bind\",\"ro\"]}";
	o.process_extra = ",\"oomScoreAdj\":500";
	req.oci = make_spec("c1",
	                    "[\"sh\",\"-c\",\"echo hello; hostname; cat /copied.txt; mkdir /tmp/x "
	                    "2>/dev/null || echo mkdir-denied; cat /proc/self/oom_score_adj; "
	                    "echo written > /tmp/w && cat /tmp/w; "
	                    "echo err >&2; exit 3\"]",
	                    &o);
	check(req.oci && call_ok("CreateContainer", &req.base) == 0,
	      "CreateContainer c1 (rootfs from a storage)");
	if (req.oci)
		protobuf_c_message_free_unpacked(&req.oci->base, NULL);
	check(simple("StartContainer", "c1") == 0, "StartContainer c1");
	out = read_all("ReadStdout", "c1", "c1");
	check(out && !strcmp(out, "hello\nc1\ncopied-ok\nmkdir-denied\n500\nwritten\n"),
	      "ReadStdout to EOF: exact output, hostname, bind mount, seccomp rule, oomScoreAdj "
	      "(got \"%s\")",
	      out ? out : "(error)");
	err = read_all("ReadStderr", "c1", "c1");
	check(err && !strcmp(err, "err\n"), "ReadStderr to EOF (got \"%s\")",
	      err ? err : "(error)");
	check(wait_status("c1", "c1") == 3, "WaitProcess: exit code 3");
	check(simple("RemoveContainer", "c1") == 0, "RemoveContainer c1");
	free(out);
	free(err);
}

static void test_long_running(void)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	Grpc__WriteStreamResponse *wr = NULL;
	Grpc__CloseStdinRequest cl = GRPC__CLOSE_STDIN_REQUEST__INIT;
	Grpc__ReadStreamRequest rr = GRPC__READ_STREAM_REQUEST__INIT;
	Grpc__ReadStreamResponse *rd = NULL;
	Grpc__StatsContainerResponse *st = NULL;
	Grpc__UpdateContainerRequest up = GRPC__UPDATE_CONTAINER_REQUEST__INIT;
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory mem = GRPC__LINUX_MEMORY__INIT;
	Grpc__StartContainerRequest sreq = GRPC__START_CONTAINER_REQUEST__INIT;
	char msg[ERR_MSG_MAX], *s, *text;
	int rc;

	check(create("c2", "[\"sh\",\"-c\",\"cat; exec sleep 1000 >/dev/null 2>&1\"]",
	             "{\"pids\":{\"limit\":100},\"memory\":{\"limit\":268435456}}", NULL) == 0,
	      "CreateContainer c2");
	check(create("c2", "[\"true\"]", NULL, msg) == TTRPC_ALREADY_EXISTS,
	      "CreateContainer c2 again: ALREADY_EXISTS (%s)", msg);
	check(simple("StartContainer", "c2") == 0, "StartContainer c2");

	w.container_id = "c2";
	w.exec_id = "c2";
	w.data.data = (uint8_t *)"ping\n";
	w.data.len = 5;
	check(call(AGENT, "WriteStdin", &w.base, &grpc__write_stream_response__descriptor,
	           (ProtobufCMessage **)&wr, NULL) == 0 &&
	              wr->len == 5,
	      "WriteStdin writes 5 bytes");
	rr.container_id = "c2";
	rr.exec_id = "c2";
	rr.len = 100;
	check(call(AGENT, "ReadStdout", &rr.base, &grpc__read_stream_response__descriptor,
	           (ProtobufCMessage **)&rd, NULL) == 0 &&
	              rd->data.len == 5 && !memcmp(rd->data.data, "ping\n", 5),
	      "ReadStdout: cat echoes stdin");
	cl.container_id = "c2";
	cl.exec_id = "c2";
	check(call_ok("CloseStdin", &cl.base) == 0, "CloseStdin");
	s = read_all("ReadStdout", "c2", "c2");
	check(s && !s[0], "ReadStdout after CloseStdin: EOF (cat exited, exec sleep)");
	free(s);

	check(exec_proc("c2", "e1", "[\"sh\",\"-c\",\"echo exec-out $(hostname); exit 5\"]", 0) ==
	              0,
	      "ExecProcess e1");
	s = read_all("ReadStdout", "c2", "e1");
	check(s && !strcmp(s, "exec-out c2\n"),
	      "ExecProcess: output from inside the container (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c2", "e1") == 5, "WaitProcess e1: exit code 5");

	check(exec_proc("c2", "e2", "[\"sleep\",\"1000\"]", 0) == 0, "ExecProcess e2 (sleep)");
	check(signal_proc("c2", "e2", SIGTERM) == 0, "SignalProcess e2 SIGTERM");
	check(wait_status("c2", "e2") == 143, "WaitProcess e2: 143 after SIGTERM");

	check(exec_proc("c2", "e3", "[\"sh\",\"-c\",\"tty; echo tty-ok\"]", 1) == 0,
	      "ExecProcess e3 with a terminal");
	s = read_all("ReadStdout", "c2", "e3");
	check(s && strstr(s, "/dev/pts/") && strstr(s, "tty-ok\r\n"),
	      "terminal process: stdout is a pty (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c2", "e3") == 0, "WaitProcess e3: 0");

	check(exec_proc("c2", "e4", "[\"sh\",\"-c\",\"sleep 1; stty size\"]", 1) == 0,
	      "ExecProcess e4 with a terminal");
	{
		Grpc__TtyWinResizeRequest rz = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;

		rz.container_id = "c2";
		rz.exec_id = "e4";
		rz.row = 40;
		rz.column = 100;
		check(call_ok("TtyWinResize", &rz.base) == 0, "TtyWinResize 40x100");
	}
	s = read_all("ReadStdout", "c2", "e4");
	check(s && strstr(s, "40 100"), "the terminal has the new size (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c2", "e4") == 0, "WaitProcess e4: 0");

	check(simple("PauseContainer", "c2") == 0, "PauseContainer");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("freezer", "c2", "freezer.state")
		            : cg_read("", "c2", "cgroup.freeze");
		check(text && !strncmp(text, t.v1 ? "FROZEN" : "1", t.v1 ? 6 : 1),
		      "cgroup freezer state is frozen (%s)", text ? text : "(unreadable)");
		free(text);
	}
	check(simple("ResumeContainer", "c2") == 0, "ResumeContainer");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("freezer", "c2", "freezer.state")
		            : cg_read("", "c2", "cgroup.freeze");
		check(text && !strncmp(text, t.v1 ? "THAWED" : "0", t.v1 ? 6 : 1),
		      "cgroup freezer state is thawed (%s)", text ? text : "(unreadable)");
		free(text);
	}

	sreq.container_id = "c2";
	rc = call(AGENT, "StatsContainer", &sreq.base, &grpc__stats_container_response__descriptor,
	          (ProtobufCMessage **)&st, NULL);
	check(rc == 0 && st->cgroup_stats && st->cgroup_stats->pids_stats &&
	              st->cgroup_stats->pids_stats->current >= 1 &&
	              st->cgroup_stats->pids_stats->limit == 100 &&
	              st->cgroup_stats->memory_stats && st->cgroup_stats->memory_stats->usage &&
	              st->cgroup_stats->memory_stats->usage->limit == 268435456,
	      "StatsContainer: pids current %llu limit %llu, memory limit %llu",
	      st && st->cgroup_stats && st->cgroup_stats->pids_stats
	              ? (unsigned long long)st->cgroup_stats->pids_stats->current
	              : 0ull,
	      st && st->cgroup_stats && st->cgroup_stats->pids_stats
	              ? (unsigned long long)st->cgroup_stats->pids_stats->limit
	              : 0ull,
	      st && st->cgroup_stats && st->cgroup_stats->memory_stats &&
	                      st->cgroup_stats->memory_stats->usage
	              ? (unsigned long long)st->cgroup_stats->memory_stats->usage->limit
	              : 0ull);

	mem.limit = 64 << 20;
	res.memory = &mem;
	up.container_id = "c2";
	up.resources = &res;
	check(call_ok("UpdateContainer", &up.base) == 0, "UpdateContainer memory limit 64 MiB");
	if (t.cgroup_root) {
		text = t.v1 ? cg_read("memory", "c2", "memory.limit_in_bytes")
		            : cg_read("", "c2", "memory.max");
		check(text && strtoull(text, NULL, 10) == 64ull << 20,
		      "memory limit visible in the cgroup file (%s)", text ? text : "(unreadable)");
		free(text);
	}

	check(signal_proc("c2", "", SIGKILL) == 0, "SignalProcess init SIGKILL");
	check(wait_status("c2", "") == 137, "WaitProcess init: 137");
	check(simple("RemoveContainer", "c2") == 0, "RemoveContainer c2");
	if (t.cgroup_root) {
		text = cg_read("memory", "c2", "cgroup.procs");
		check(!text, "the container's cgroup is gone");
		free(text);
	}
	if (wr)
		protobuf_c_message_free_unpacked(&wr->base, NULL);
	if (rd)
		protobuf_c_message_free_unpacked(&rd->base, NULL);
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
}

static void test_oom(void)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	Grpc__OOMEvent *ev = NULL;

	check(create("c3", "[\"dd\",\"if=/dev/zero\",\"of=/dev/null\",\"bs=64M\",\"count=1\"]",
	             "{\"memory\":{\"limit\":16777216,\"swap\":16777216}}", NULL) == 0,
	      "CreateContainer c3 (16 MiB, allocates 64 MiB)");
	check(simple("StartContainer", "c3") == 0, "StartContainer c3");
	check(call(AGENT, "GetOOMEvent", &req.base, &grpc__oomevent__descriptor,
	           (ProtobufCMessage **)&ev, NULL) == 0 &&
	              !strcmp(ev->container_id, "c3"),
	      "GetOOMEvent names c3");
	check(wait_status("c3", "c3") == 137, "WaitProcess c3: killed (137)");
	check(simple("RemoveContainer", "c3") == 0, "RemoveContainer c3");
	if (ev)
		protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* A user namespace, a non-root user with extra groups, capability sets and
 * no_new_privs, seen from inside; then exec into it (setns of the user
 * namespace first). */
static void test_user(void)
{
	struct spec_opts o = {
	        .user = "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[10,20]}",
	        .caps_extra = ",\"inheritable\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]",
	        .ns_extra = ",{\"type\":\"user\"}",
	        .linux_extra = ",\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,"
	                       "\"size\":65536}],\"gidMappings\":[{\"containerID\":0,"
	                       "\"hostID\":100000,\"size\":65536}]",
	};
	char *s;

	check(create_opts("c4",
	                  "[\"sh\",\"-c\",\"cat /proc/self/uid_map; id; "
	                  "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; cat\"]",
	                  &o, NULL) == 0,
	      "CreateContainer c4 (user namespace, uid 1000)");
	check(simple("StartContainer", "c4") == 0, "StartContainer c4");
	check(exec_proc("c4", "x1", "[\"sh\",\"-c\",\"id -u; cat /proc/self/uid_map\"]", 0) == 0,
	      "ExecProcess into the user namespace");
	s = read_all("ReadStdout", "c4", "x1");
	check(s && strstr(s, "0\n") && strstr(s, "100000"),
	      "exec'd process: uid 0 mapped to 100000 (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c4", "x1") == 0, "WaitProcess x1: 0");
	{
		Grpc__CloseStdinRequest cl = GRPC__CLOSE_STDIN_REQUEST__INIT;

		cl.container_id = "c4";
		cl.exec_id = "c4";
		check(call_ok("CloseStdin", &cl.base) == 0, "CloseStdin c4");
	}
	s = read_all("ReadStdout", "c4", "c4");
	check(s && strstr(s, "100000") && strstr(s, "uid=1000 gid=1000 groups=10,20") &&
	              strstr(s, "CapEff:\t0000000000000020") &&
	              strstr(s, "CapAmb:\t0000000000000020") &&
	              strstr(s, "CapBnd:\t00000000002000e3") && strstr(s, "NoNewPrivs:\t1"),
	      "uid map, user, groups, capabilities (uid 1000 keeps the ambient set), no_new_privs "
	      "(%s)",
	      s ? s : "(error)");
	free(s);
	check(wait_status("c4", "c4") == 0, "WaitProcess c4: 0");
	check(simple("RemoveContainer", "c4") == 0, "RemoveContainer c4");
}

/* The rootfs hardening: readonly root, masked and readonly paths, a
 * sysctl, rlimits, device nodes, a cgroup namespace rooted at the
 * container's cgroup. */
static void test_rootfs(void)
{
	struct spec_opts o = {
	        .readonly = 1,
	        .ns_extra = ",{\"type\":\"cgroup\"}",
	        .linux_extra = ",\"sysctl\":{\"kernel.shmmax\":\"65536\"},"
	                       "\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,"
	                       "\"minor\":229,\"fileMode\":438}]",
	};
	char *s;

	check(create_opts("c5",
	                  "[\"sh\",\"-c\",\"touch /x 2>/dev/null || echo ro-root; "
	                  "test -s /proc/kcore || echo kcore-masked; "
	                  "(echo 1 > /proc/sys/kernel/shmmni) 2>/dev/null || echo sys-ro; "
	                  "cat /proc/sys/kernel/shmmax; ulimit -n; "
	                  "echo cgroups-outside-root: $(grep -vc ':/$' /proc/self/cgroup); "
	                  "ls -l /dev/fuse /dev/null; ls /dev\"]",
	                  &o, NULL) == 0,
	      "CreateContainer c5 (readonly root, sysctl, device, cgroup namespace)");
	check(simple("StartContainer", "c5") == 0, "StartContainer c5");
	s = read_all("ReadStdout", "c5", "c5");
	check(s && !strncmp(s,
	                    "ro-root\nkcore-masked\nsys-ro\n65536\n1024\ncgroups-outside-root: 0\n",
	                    63),
	      "readonly root, masked /proc/kcore, readonly /proc/sys, sysctl, rlimit, cgroup "
	      "namespace (%s)",
	      s ? s : "(error)");
	check(s && strstr(s, "crw-rw-rw-") && strstr(s, "10, 229") && strstr(s, "1,   3") &&
	              strstr(s, "\nptmx\n") && strstr(s, "\nurandom\n") && strstr(s, "\nstdin\n"),
	      "device nodes: linux.devices, the defaults and the /dev links");
	free(s);
	check(wait_status("c5", "c5") == 0, "WaitProcess c5: 0");
	check(simple("RemoveContainer", "c5") == 0, "RemoveContainer c5");
}

/* Device access rules (cgroup v1 lists, or the v2 BPF filter). */
static void test_devices(void)
{
	struct spec_opts o = {
	        .resources = "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
	                     "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
	                     "\"access\":\"rwm\"},"
	                     "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,"
	                     "\"access\":\"r\"}]}",
	};
	char *s;

	check(create_opts(
	              "c6",
	              "[\"sh\",\"-c\",\"echo x > /dev/null && echo null-ok; "
	              "head -c 1 /dev/zero > /dev/null && echo zero-read-ok; "
	              "(echo x > /dev/zero) 2>/dev/null || echo zero-write-denied; "
	              "(head -c 1 /dev/urandom > /dev/null) 2>/dev/null || echo urandom-denied\"]",
	              &o, NULL) == 0,
	      "CreateContainer c6 (device rules)");
	check(simple("StartContainer", "c6") == 0, "StartContainer c6");
	s = read_all("ReadStdout", "c6", "c6");
	check(s && !strcmp(s, "null-ok\nzero-read-ok\nzero-write-denied\nurandom-denied\n"),
	      "device rules: allowed, read-only and denied devices (%s)", s ? s : "(error)");
	free(s);
	check(wait_status("c6", "c6") == 0, "WaitProcess c6: 0");
	check(simple("RemoveContainer", "c6") == 0, "RemoveContainer c6");
}

static int has_iface(Grpc__Interfaces *l, const char *name)
{
	for (size_t i = 0; l && i < l->n_interfaces; i++)
		if (!strcmp(l->interfaces[i]->name, name))
			return 1;
	return 0;
}

static int has_route(Grpc__Routes *l, const char *dest)
{
	for (size_t i = 0; l && i < l->n_routes; i++)
		if (!strcmp(l->routes[i]->dest, dest))
			return 1;
	return 0;
}

static void test_guest(void)
{
	Grpc__GuestDetailsRequest gd = GRPC__GUEST_DETAILS_REQUEST__INIT;
	Grpc__GuestDetailsResponse *gr = NULL;
	Grpc__ListInterfacesRequest li = GRPC__LIST_INTERFACES_REQUEST__INIT;
	Grpc__ListRoutesRequest lr = GRPC__LIST_ROUTES_REQUEST__INIT;
	Grpc__Interfaces *ifs = NULL;
	Grpc__Routes *routes = NULL, *rr = NULL, want = GRPC__ROUTES__INIT;
	Grpc__UpdateInterfaceRequest ui = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	Grpc__UpdateRoutesRequest ur = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	Types__Interface lo = TYPES__INTERFACE__INIT, *got = NULL;
	Types__IPAddress ip = TYPES__IPADDRESS__INIT, *ips[] = {&ip};
	Types__Route rt = TYPES__ROUTE__INIT, *rts[] = {&rt};
	Grpc__SetGuestDateTimeRequest tm = GRPC__SET_GUEST_DATE_TIME_REQUEST__INIT;
	char msg[ERR_MSG_MAX];
	int rc;

	gd.mem_block_size = 1;
	rc = call(AGENT, "GetGuestDetails", &gd.base, &grpc__guest_details_response__descriptor,
	          (ProtobufCMessage **)&gr, NULL);
	check(rc == 0 && gr->agent_details && gr->agent_details->version[0] &&
	              gr->agent_details->init_daemon == !t.host_mode,
	      "GetGuestDetails: agent details (init_daemon %d)",
	      rc == 0 && gr->agent_details ? gr->agent_details->init_daemon : -1);

	rc = call(AGENT, "ListInterfaces", &li.base, &grpc__interfaces__descriptor,
	          (ProtobufCMessage **)&ifs, NULL);
	check(rc == 0 && has_iface(ifs, "lo"), "ListInterfaces lists lo");

	ip.address = "127.0.0.1";
	ip.mask = "8";
	lo.name = "lo";
	lo.n_ipaddresses = 1;
	lo.ipaddresses = ips;
	ui.interface = &lo;
	rc = call(AGENT, "UpdateInterface", &ui.base, &types__interface__descriptor,
	          (ProtobufCMessage **)&got, msg);
	check(rc == 0 && (got->raw_flags & 1) && got->n_ipaddresses >= 1 &&
	              !strcmp(got->ipaddresses[0]->address, "127.0.0.1") &&
	              !strcmp(got->ipaddresses[0]->mask, "8"),
	      "UpdateInterface lo: up with 127.0.0.1/8 (%s)", rc == 0 ? "ok" : msg);

	rt.dest = "10.99.0.0/16";
	rt.device = "lo";
	rt.scope = 253; /* link */
	want.n_routes = 1;
	want.routes = rts;
	ur.routes = &want;
	rc = call(AGENT, "UpdateRoutes", &ur.base, &grpc__routes__descriptor,
	          (ProtobufCMessage **)&rr, msg);
	check(rc == 0 && has_route(rr, "10.99.0.0/16"), "UpdateRoutes adds 10.99.0.0/16 (%s)",
	      rc == 0 ? "ok" : msg);
	rc = call(AGENT, "ListRoutes", &lr.base, &grpc__routes__descriptor,
	          (ProtobufCMessage **)&routes, NULL);
	check(rc == 0 && has_route(routes, "10.99.0.0/16"), "ListRoutes shows it");

	if (t.host_mode) {
		tm.sec = 1;
		check(call(AGENT, "SetGuestDateTime", &tm.base, NULL, NULL, msg) ==
		              TTRPC_FAILED_PRECONDITION,
		      "host mode: SetGuestDateTime is refused (%s)", msg);
	} else {
		struct timeval now;

		gettimeofday(&now, NULL);
		tm.sec = now.tv_sec;
		tm.usec = now.tv_usec;
		check(call(AGENT, "SetGuestDateTime", &tm.base, NULL, NULL, msg) == 0,
		      "SetGuestDateTime to the host's time (%s)", msg);
	}
	if (gr)
		protobuf_c_message_free_unpacked(&gr->base, NULL);
	if (ifs)
		protobuf_c_message_free_unpacked(&ifs->base, NULL);
	if (got)
		protobuf_c_message_free_unpacked(&got->base, NULL);
	if (rr)
		protobuf_c_message_free_unpacked(&rr->base, NULL);
	if (routes)
		protobuf_c_message_free_unpacked(&routes->base, NULL);
}

static void test_errors(void)
{
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;
	char msg[ERR_MSG_MAX];

	req.container_id = "nope";
	check(call(AGENT, "StartContainer", &req.base, NULL, NULL, msg) == TTRPC_NOT_FOUND,
	      "StartContainer of an unknown id: NOT_FOUND (%s)", msg);
	check(create("bad", "[]", NULL, msg) == TTRPC_INVALID_ARGUMENT &&
	              strstr(msg, "process.args"),
	      "CreateContainer with empty args: INVALID_ARGUMENT naming process.args (%s)", msg);
	check(call(AGENT, "ReseedRandomDev", &req.base, NULL, NULL, msg) == TTRPC_UNIMPLEMENTED,
	      "an unimplemented method: UNIMPLEMENTED (%s)", msg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"addr", required_argument, NULL, 'a'},
	        {"rootfs", required_argument, NULL, 'r'},
	        {"cgroup-root", required_argument, NULL, 'c'},
	        {"cgroup-prefix", required_argument, NULL, 'p'},
	        {"agent-pid", required_argument, NULL, 'P'},
	        {"host-mode", no_argument, NULL, 'H'},
	        {"rootfs-blk", required_argument, NULL, 'b'},
	        {0},
	};
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__DestroySandboxRequest db = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	const char *addr = NULL;
	struct err e = {0};
	int c, fd, fds0 = -1;
	struct stat st;

	while ((c = getopt_long(argc, argv, "a:r:c:p:P:Hb:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'r':
			t.rootfs = optarg;
			break;
		case 'c':
			t.cgroup_root = optarg;
			break;
		case 'p':
			t.prefix = optarg;
			break;
		case 'P':
			t.agent_pid = atoi(optarg);
			break;
		case 'H':
			t.host_mode = 1;
			break;
		case 'b':
			t.blk_device = optarg;
			t.blk_fstype = strchr(optarg, ':');
			if (!t.blk_fstype) {
				fprintf(stderr, "agent-client: --rootfs-blk takes DEVICE:FSTYPE\n");
				return 2;
			}
			*(char *)t.blk_fstype++ = '\0';
			break;
		default:
			return 2;
		}
	}
	if (!addr || !t.rootfs) {
		fprintf(stderr, "usage: agent-client --addr ADDR --rootfs DIR [--cgroup-root DIR] "
		                "[--cgroup-prefix P] [--agent-pid PID] [--host-mode] "
		                "[--rootfs-blk DEV:FSTYPE]\n");
		return 2;
	}
	if (t.cgroup_root) {
		char p[512];

		snprintf(p, sizeof(p), "%s/memory", t.cgroup_root);
		t.v1 = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	}
	if (hvsock_addr_dial(addr, 30000, &fd, &e) < 0 || ttrpc_client_new(&t.c, fd, &e) < 0) {
		fprintf(stderr, "agent-client: %s\n", e.msg);
		return 1;
	}
	test_health();
	if (t.agent_pid)
		fds0 = count_fds(t.agent_pid);
	sb.hostname = "hako-test";
	sb.sandbox_id = "sandbox-test";
	check(call_ok("CreateSandbox", &sb.base) == 0, "CreateSandbox");
	test_run_to_exit();
	test_long_running();
	test_oom();
	test_user();
	test_rootfs();
	test_devices();
	test_guest();
	test_errors();
	if (t.agent_pid) {
		int fds1 = count_fds(t.agent_pid);

		check(fds0 > 0 && fds1 == fds0, "agent fds after all removals: %d (at start %d)",
		      fds1, fds0);
	}
	check(call_ok("DestroySandbox", &db.base) == 0, "DestroySandbox");
	ttrpc_client_free(t.c);
	printf("1..%d\n", t.n);
	return t.failed ? 1 : 0;
}
