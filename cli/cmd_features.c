/* cli/cmd_features.c: `hako features`: runc's features document, listing what
 * hako's agent applies inside the guest (its OCI parser in agent/ is the
 * source of these lists: keep them in step). */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "runtime/bundle.h"

static const char features[] =
        "{\"ociVersionMin\": \"1.0.0\", \"ociVersionMax\": \"" BUNDLE_OCI_VERSION "\","
        /* Hooks are not run by hako yet: an empty list says "none". */
        "\"hooks\": [],"
        "\"mountOptions\": [\"async\", \"atime\", \"bind\", \"dev\", \"diratime\","
        " \"dirsync\", \"exec\", \"mand\", \"noatime\", \"nodev\", \"nodiratime\","
        " \"noexec\", \"nomand\", \"norelatime\", \"nostrictatime\", \"nosuid\", \"private\","
        " \"rbind\", \"relatime\", \"remount\", \"ro\", \"rprivate\", \"rshared\","
        " \"rslave\", \"runbindable\", \"rw\", \"shared\", \"slave\", \"strictatime\","
        " \"suid\", \"sync\", \"unbindable\"],"
        "\"linux\": {"
        " \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"user\","
        "  \"uts\"],"
        " \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\","
        "  \"CAP_FOWNER\", \"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\","
        "  \"CAP_SETPCAP\", \"CAP_LINUX_IMMUTABLE\", \"CAP_NET_BIND_SERVICE\","
        "  \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", \"CAP_IPC_LOCK\","
        "  \"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\","
        "  \"CAP_SYS_PTRACE\", \"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\","
        "  \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", \"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\","
        "  \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", \"CAP_AUDIT_CONTROL\","
        "  \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", \"CAP_SYSLOG\","
        "  \"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\","
        "  \"CAP_BPF\", \"CAP_CHECKPOINT_RESTORE\"],"
        " \"cgroup\": {\"v1\": false, \"v2\": true, \"systemd\": false, \"systemdUser\": false},"
        " \"seccomp\": {\"enabled\": true,"
        "  \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\","
        "   \"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\","
        "   \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],"
        "  \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\","
        "   \"SCMP_CMP_LT\", \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],"
        "  \"archs\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X32\"]},"
        " \"apparmor\": {\"enabled\": false},"
        " \"selinux\": {\"enabled\": false}},"
        "\"annotations\": {\"org.hako.runtime.version\": \"" HAKO_VERSION "\"}}";

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	struct json_object *o = json_tokener_parse(features);

	(void)args;
	if (!o)
		return err_set(e, EINVAL, "internal: the features document is not valid JSON");
	fprintf(ctx->out, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

const struct cli_command cli_cmd_features = {
        .name = "features",
        .args = NULL,
        .summary = "show what hako supports, as runc's features JSON",
        .options = NULL,
        .min_args = 0,
        .max_args = 0,
        .run = run,
};
