/* vmm/cli.c: parsing of hako-vmm's options into a struct vmm_config, and
 * the mapping of guest exit reasons to the process exit status. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"

enum { OPT_APPEND = 256, OPT_CID, OPT_CPUID_MASK, OPT_VSOCK };

static const struct option options[] = {
        {"kernel", required_argument, NULL, 'k'},
        {"initrd", required_argument, NULL, 'i'},
        {"cmdline", required_argument, NULL, 'c'},
        {"append", required_argument, NULL, OPT_APPEND},
        {"mem", required_argument, NULL, 'm'},
        {"vcpus", required_argument, NULL, 'n'},
        {"disk", required_argument, NULL, 'd'},
        {"tap", required_argument, NULL, 't'},
        {"vsock-uds", required_argument, NULL, OPT_VSOCK},
        {"cid", required_argument, NULL, OPT_CID},
        {"share", required_argument, NULL, 's'},
        {"serial", required_argument, NULL, 'S'},
        {"cpuid-mask", required_argument, NULL, OPT_CPUID_MASK},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
};

const char *vmm_cli_usage(void)
{
	return "Usage: hako-vmm --kernel VMLINUX [options]\n"
	       "Boot a Linux guest under KVM with hako's built-in VMM.\n"
	       "\n"
	       "  --kernel PATH        ELF vmlinux (PVH or 64-bit entry) or bzImage\n"
	       "  --initrd PATH        initial ramdisk (uncompressed cpio is fastest)\n"
	       "  --cmdline LINE       kernel command line (default: built in per host kind)\n"
	       "  --append LINE        added to the command line\n"
	       "  --mem MIB            guest memory in MiB (default 256; suffix G for GiB)\n"
	       "  --vcpus N            number of vCPUs (default 1)\n"
	       "  --disk PATH[,ro]     virtio-blk disk (repeatable)\n"
	       "  --tap NAME           virtio-net on an existing tap device (repeatable)\n"
	       "  --vsock-uds PATH     hybrid vsock: host socket PATH, guest->host port P\n"
	       "                       connects to PATH_P\n"
	       "  --cid N              guest vsock CID (default 3)\n"
	       "  --share TAG=DIR      virtio-fs share of DIR under TAG (repeatable)\n"
	       "  --serial FILE|-      COM1 output to FILE (appended) or stdout\n"
	       "  --cpuid-mask LIST    hide CPUID features, e.g. avx,xsave,pcid\n"
	       "  --verbose            log VMM events to stderr\n"
	       "  --help, --version\n"
	       "\n"
	       "Exit status: 0 guest powered off, 1 VMM error, 2 bad arguments,\n"
	       "3 guest rebooted, 4 guest triple fault, 5 stopped by a signal.\n"
	       "Devices the build lacks are refused with \"not supported: <device>\".\n";
}

int vmm_cli_exit_status(enum vmm_exit_reason r)
{
	switch (r) {
	case VMM_EXIT_POWEROFF:
		return VMM_CLI_EXIT_POWEROFF;
	case VMM_EXIT_REBOOT:
		return VMM_CLI_EXIT_REBOOT;
	case VMM_EXIT_TRIPLE_FAULT:
		return VMM_CLI_EXIT_TRIPLE_FAULT;
	case VMM_EXIT_SHUTDOWN:
		return VMM_CLI_EXIT_SHUTDOWN;
	default:
		return VMM_CLI_EXIT_ERROR;
	}
}

static int parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out,
                      char **rest, struct err *e)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *s == '-' || v > max || (!rest && *end))
		return err_set(e, EINVAL, "--%s: '%s' is not a number up to %lu", opt, s, max);
	if (rest)
		*rest = end;
	*out = v;
	return 0;
}

static int parse_mem(const char *s, unsigned int *mib, struct err *e)
{
	unsigned long v;
	char *rest;

	if (parse_uint("mem", s, 1UL << 20, &v, &rest, e) < 0)
		return -1;
	if (!strcmp(rest, "G") || !strcmp(rest, "g"))
		v <<= 10;
	else if (*rest && strcmp(rest, "M") && strcmp(rest, "m"))
		return err_set(e, EINVAL, "--mem: '%s' is not MiB (or a number with G)", s);
	if (v == 0 || v > (1UL << 20))
		return err_set(e, EINVAL, "--mem: '%s' is out of range", s);
	*mib = (unsigned int)v;
	return 0;
}

static int parse_disk(struct vmm_config *c, char *arg, struct err *e)
{
	char *comma = strchr(arg, ',');

	if (c->nr_disks >= VMM_MAX_DISKS)
		return err_set(e, EINVAL, "--disk: at most %d disks", VMM_MAX_DISKS);
	c->disks[c->nr_disks].readonly = false;
	if (comma) {
		if (strcmp(comma, ",ro") && strcmp(comma, ",rw"))
			return err_set(e, EINVAL, "--disk %s: option must be ro or rw", arg);
		c->disks[c->nr_disks].readonly = !strcmp(comma, ",ro");
		*comma = '\0';
	}
	if (!*arg)
		return err_set(e, EINVAL, "--disk: empty path");
	c->disks[c->nr_disks++].path = arg;
	return 0;
}

static int parse_share(struct vmm_config *c, char *arg, struct err *e)
{
	char *eq = strchr(arg, '=');

	if (c->nr_shares >= VMM_MAX_SHARES)
		return err_set(e, EINVAL, "--share: at most %d shares", VMM_MAX_SHARES);
	if (!eq || eq == arg || !eq[1])
		return err_set(e, EINVAL, "--share %s: expected TAG=DIR", arg);
	*eq = '\0';
	c->shares[c->nr_shares].tag = arg;
	c->shares[c->nr_shares++].dir = eq + 1;
	return 0;
}

static int parse_one(struct vmm_cli *cli, int opt, char *arg, struct err *e)
{
	struct vmm_config *c = &cli->cfg;
	unsigned long v;

	switch (opt) {
	case 'k':
		c->kernel = arg;
		return 0;
	case 'i':
		c->initrd = arg;
		return 0;
	case 'c':
		c->cmdline = arg;
		return 0;
	case OPT_APPEND:
		c->cmdline_append = arg;
		return 0;
	case 'm':
		return parse_mem(arg, &c->mem_mib, e);
	case 'n':
		if (parse_uint("vcpus", arg, VMM_MAX_VCPUS, &v, NULL, e) < 0)
			return -1;
		if (v == 0)
			return err_set(e, EINVAL, "--vcpus: must be at least 1");
		c->vcpus = (unsigned int)v;
		return 0;
	case 'd':
		return parse_disk(c, arg, e);
	case 't':
		if (c->nr_taps >= VMM_MAX_TAPS)
			return err_set(e, EINVAL, "--tap: at most %d taps", VMM_MAX_TAPS);
		c->taps[c->nr_taps++].name = arg;
		return 0;
	case OPT_VSOCK:
		c->vsock_uds = arg;
		return 0;
	case OPT_CID:
		if (parse_uint("cid", arg, UINT32_MAX, &v, NULL, e) < 0)
			return -1;
		if (v < 3)
			return err_set(e, EINVAL, "--cid: %lu is reserved (use 3 or more)", v);
		c->vsock_cid = v;
		return 0;
	case 's':
		return parse_share(c, arg, e);
	case 'S':
		if (!strcmp(arg, "-"))
			c->serial_fd = 1;
		else
			c->serial_path = arg;
		return 0;
	case OPT_CPUID_MASK:
		c->cpuid_mask = arg;
		return 0;
	case 'v':
		cli->verbose = true;
		return 0;
	case 'h':
		cli->help = true;
		return 0;
	case 'V':
		cli->version = true;
		return 0;
	default:
		return err_set(e, EINVAL, "unknown option");
	}
}

int vmm_cli_parse(struct vmm_cli *cli, int argc, char **argv, struct err *e)
{
	int opt, idx;

	memset(cli, 0, sizeof(*cli));
	vmm_config_init(&cli->cfg);
	optind = 0; /* full reinitialisation, so tests can parse twice */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", options, &idx)) != -1) {
		if (opt == '?') {
			if (optopt)
				return err_set(e, EINVAL, "option needs an argument: %s",
				               argv[optind - 1]);
			return err_set(e, EINVAL, "unknown option: %s", argv[optind - 1]);
		}
		if (opt == ':')
			return err_set(e, EINVAL, "option needs an argument: %s", argv[optind - 1]);
		if (parse_one(cli, opt, optarg, e) < 0)
			return -1;
	}
	if (optind < argc)
		return err_set(e, EINVAL, "unexpected argument: %s", argv[optind]);
	if (cli->help || cli->version)
		return 0;
	if (!cli->cfg.kernel)
		return err_set(e, EINVAL, "missing --kernel");
	return 0;
}
