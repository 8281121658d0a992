/* agent/network.c: list and configure links, addresses and routes with
 * plain rtnetlink messages (no libnl). Kata's IPAddress.mask is the prefix
 * length in decimal ("24"). Messages built here own every string they hold
 * (protobuf_c_message_free_unpacked frees them). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "agent/network.h"
#include "lib/util.h"

#define NL_BUF 32768

struct nlreq {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	};
	char attrs[1024];
};

static int nl_open(struct err *e)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return err_sys(e, "netlink socket");
	return fd;
}

static void add_attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

typedef int (*nl_cb)(struct nlmsghdr *h, void *arg);

/* Send one request; call cb for each answer until DONE (dump) or ACK. */
static int nl_talk(int fd, struct nlreq *r, nl_cb cb, void *arg, struct err *e)
{
	static unsigned seq;
	cleanup_free char *buf = malloc(NL_BUF);

	if (!buf)
		return err_set(e, ENOMEM, "out of memory");
	r->h.nlmsg_seq = ++seq;
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, r, r->h.nlmsg_len, 0) < 0)
		return err_sys(e, "netlink send");
	for (;;) {
		ssize_t n = recv(fd, buf, NL_BUF, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(e, "netlink recv");
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *ne = NLMSG_DATA(h);

				if (ne->error == 0)
					return 0;
				errno = -ne->error;
				return err_sys(e, "netlink");
			}
			if (cb && cb(h, arg) < 0)
				return err_set(e, ENOMEM, "out of memory");
		}
	}
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

static void init_iface(Types__Interface *i)
{
	types__interface__init(i);
	i->device = xstrdup("");
	i->name = xstrdup("");
	i->hwaddr = xstrdup("");
	i->devicepath = xstrdup("");
	i->type = xstrdup("");
}

struct iface_list {
	Grpc__Interfaces *l;
	int *index; /* ifindex per entry */
};

static int on_link(struct nlmsghdr *h, void *arg)
{
	struct iface_list *il = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	Types__Interface *i, **ni;
	int *nidx;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	i = malloc(sizeof(*i));
	ni = realloc(il->l->interfaces, (il->l->n_interfaces + 1) * sizeof(*ni));
	if (ni)
		il->l->interfaces = ni;
	nidx = realloc(il->index, (il->l->n_interfaces + 1) * sizeof(int));
	if (nidx)
		il->index = nidx;
	if (!i || !ni || !nidx) {
		free(i);
		return -1;
	}
	init_iface(i);
	i->raw_flags = ifi->ifi_flags;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME) {
			free(i->name);
			free(i->device);
			i->name = strndup(RTA_DATA(a), RTA_PAYLOAD(a));
			i->device = strndup(RTA_DATA(a), RTA_PAYLOAD(a));
		} else if (a->rta_type == IFLA_MTU) {
			i->mtu = *(unsigned *)RTA_DATA(a);
		} else if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
			unsigned char *m = RTA_DATA(a);

			free(i->hwaddr);
			if (asprintf(&i->hwaddr, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
			             m[3], m[4], m[5]) < 0)
				i->hwaddr = NULL;
		} else if (a->rta_type == IFLA_LINKINFO) {
			int l2 = (int)RTA_PAYLOAD(a);

			for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2)) {
				if (b->rta_type == IFLA_INFO_KIND) {
					free(i->type);
					i->type = strndup(RTA_DATA(b), RTA_PAYLOAD(b));
				}
			}
		}
	}
	il->index[il->l->n_interfaces] = ifi->ifi_index;
	il->l->interfaces[il->l->n_interfaces++] = i;
	return (i->name && i->device && i->hwaddr && i->type) ? 0 : -1;
}

static int on_addr(struct nlmsghdr *h, void *arg)
{
	struct iface_list *il = arg;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)IFA_PAYLOAD(h);
	const void *addr = NULL;
	Types__Interface *i = NULL;
	Types__IPAddress *ip, **nips;
	char text[INET6_ADDRSTRLEN];

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	for (size_t k = 0; k < il->l->n_interfaces; k++)
		if (il->index[k] == (int)ifa->ifa_index)
			i = il->l->interfaces[k];
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr))
			addr = RTA_DATA(a);
	if (!i || !addr || !inet_ntop(ifa->ifa_family, addr, text, sizeof(text)))
		return 0;
	ip = malloc(sizeof(*ip));
	nips = realloc(i->ipaddresses, (i->n_ipaddresses + 1) * sizeof(*nips));
	if (nips)
		i->ipaddresses = nips;
	if (!ip || !nips) {
		free(ip);
		return -1;
	}
	types__ipaddress__init(ip);
	ip->family = ifa->ifa_family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	ip->address = strdup(text);
	if (asprintf(&ip->mask, "%u", ifa->ifa_prefixlen) < 0)
		ip->mask = NULL;
	i->ipaddresses[i->n_ipaddresses++] = ip;
	return ip->address && ip->mask ? 0 : -1;
}

static int list_ifaces(int fd, struct iface_list *il, struct err *e)
{
	struct nlreq r;

	il->l = malloc(sizeof(*il->l));
	il->index = NULL;
	if (!il->l)
		return err_set(e, ENOMEM, "out of memory");
	grpc__interfaces__init(il->l);
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.h.nlmsg_type = RTM_GETLINK;
	r.h.nlmsg_flags = NLM_F_DUMP;
	if (nl_talk(fd, &r, on_link, il, e) < 0)
		return err_ctx(e, "list links");
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.h.nlmsg_type = RTM_GETADDR;
	r.h.nlmsg_flags = NLM_F_DUMP;
	if (nl_talk(fd, &r, on_addr, il, e) < 0)
		return err_ctx(e, "list addresses");
	return 0;
}

int network_list_interfaces(Grpc__Interfaces **out, struct err *e)
{
	struct iface_list il = {0};
	cleanup_close int fd = nl_open(e);
	int rc;

	if (fd < 0)
		return -1;
	rc = list_ifaces(fd, &il, e);
	free(il.index);
	if (rc < 0) {
		network_free_interfaces(il.l);
		return -1;
	}
	*out = il.l;
	return 0;
}

struct route_list {
	Grpc__Routes *l;
	struct iface_list *links;
};

static const char *link_name(struct iface_list *il, int index)
{
	for (size_t k = 0; k < il->l->n_interfaces; k++)
		if (il->index[k] == index)
			return il->l->interfaces[k]->name;
	return "";
}

static int on_route(struct nlmsghdr *h, void *arg)
{
	struct route_list *rl = arg;
	struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)RTM_PAYLOAD(h);
	char dst[INET6_ADDRSTRLEN + 8] = "", gw[INET6_ADDRSTRLEN] = "", src[INET6_ADDRSTRLEN] = "";
	unsigned table = rt->rtm_table;
	int oif = 0;
	Types__Route *r, **nr;

	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_type != RTN_UNICAST)
		return 0;
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		char text[INET6_ADDRSTRLEN];

		if (a->rta_type == RTA_TABLE) {
			table = *(unsigned *)RTA_DATA(a);
		} else if (a->rta_type == RTA_OIF) {
			oif = *(int *)RTA_DATA(a);
		} else if (a->rta_type == RTA_DST || a->rta_type == RTA_GATEWAY ||
		           a->rta_type == RTA_PREFSRC) {
			if (!inet_ntop(rt->rtm_family, RTA_DATA(a), text, sizeof(text)))
				continue;
			if (a->rta_type == RTA_DST)
				snprintf(dst, sizeof(dst), "%s/%u", text, rt->rtm_dst_len);
			else
				snprintf(a->rta_type == RTA_GATEWAY ? gw : src, sizeof(gw), "%s",
				         text);
		}
	}
	if (table != RT_TABLE_MAIN)
		return 0;
	r = malloc(sizeof(*r));
	nr = realloc(rl->l->routes, (rl->l->n_routes + 1) * sizeof(*nr));
	if (nr)
		rl->l->routes = nr;
	if (!r || !nr) {
		free(r);
		return -1;
	}
	types__route__init(r);
	r->dest = strdup(dst);
	r->gateway = strdup(gw);
	r->source = strdup(src);
	r->device = strdup(link_name(rl->links, oif));
	r->scope = rt->rtm_scope;
	r->family = rt->rtm_family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	r->flags = rt->rtm_flags;
	rl->l->routes[rl->l->n_routes++] = r;
	return r->dest && r->gateway && r->source && r->device ? 0 : -1;
}

int network_list_routes(Grpc__Routes **out, struct err *e)
{
	struct iface_list il = {0};
	struct route_list rl = {.links = &il};
	cleanup_close int fd = nl_open(e);
	struct nlreq r;
	int rc = -1;

	if (fd < 0)
		return -1;
	rl.l = malloc(sizeof(*rl.l));
	if (!rl.l) {
		err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	grpc__routes__init(rl.l);
	if (list_ifaces(fd, &il, e) < 0)
		goto out;
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.h.nlmsg_type = RTM_GETROUTE;
	r.h.nlmsg_flags = NLM_F_DUMP;
	if (nl_talk(fd, &r, on_route, &rl, e) < 0) {
		err_ctx(e, "list routes");
		goto out;
	}
	*out = steal_ptr(rl.l);
	rc = 0;
out:
	network_free_routes(rl.l);
	network_free_interfaces(il.l);
	free(il.index);
	return rc;
}

static int parse_addr(const char *text, int *family, unsigned char *buf, struct err *e)
{
	*family = strchr(text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(*family, text, buf) != 1)
		return err_set(e, EINVAL, "\"%s\" is not an IP address", text);
	return 0;
}

static int link_request(int fd, int index, unsigned flags, unsigned change, const char *name,
                        unsigned mtu, struct err *e)
{
	struct nlreq r;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.ifi.ifi_index = index;
	r.ifi.ifi_flags = flags;
	r.ifi.ifi_change = change;
	if (name)
		add_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	if (mtu)
		add_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_talk(fd, &r, NULL, NULL, e);
}

static int addr_request(int fd, int type, int index, const Types__IPAddress *ip, struct err *e)
{
	unsigned char bin[16];
	struct nlreq r;
	int family;

	if (parse_addr(ip->address, &family, bin, e) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.h.nlmsg_type = (unsigned short)type;
	if (type == RTM_NEWADDR)
		r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	r.ifa.ifa_family = (unsigned char)family;
	r.ifa.ifa_prefixlen =
	        (unsigned char)(ip->mask[0] ? atoi(ip->mask) : (family == AF_INET ? 32 : 128));
	r.ifa.ifa_index = (unsigned)index;
	add_attr(&r, IFA_LOCAL, bin, family == AF_INET ? 4 : 16);
	add_attr(&r, IFA_ADDRESS, bin, family == AF_INET ? 4 : 16);
	return nl_talk(fd, &r, NULL, NULL, e);
}

int network_update_interface(const Types__Interface *want, Types__Interface **out, struct err *e)
{
	struct iface_list il = {0};
	cleanup_close int fd = nl_open(e);
	Types__Interface *cur = NULL;
	int index = 0, rc = -1;

	if (fd < 0)
		return -1;
	if (list_ifaces(fd, &il, e) < 0)
		goto out;
	for (size_t k = 0; k < il.l->n_interfaces && !cur; k++) {
		Types__Interface *i = il.l->interfaces[k];

		if ((want->hwaddr[0] && !strcasecmp(i->hwaddr, want->hwaddr)) ||
		    (!want->hwaddr[0] && !strcmp(i->name, want->name))) {
			cur = i;
			index = il.index[k];
		}
	}
	if (!cur) {
		err_set(e, ENOENT, "interface: no link with hwAddr \"%s\" or name \"%s\"",
		        want->hwaddr, want->name);
		goto out;
	}
	if (want->name[0] && strcmp(want->name, cur->name) != 0 &&
	    (link_request(fd, index, 0, IFF_UP, NULL, 0, e) < 0 ||
	     link_request(fd, index, 0, 0, want->name, 0, e) < 0))
		goto out;
	if (want->mtu && link_request(fd, index, 0, 0, NULL, (unsigned)want->mtu, e) < 0)
		goto out;
	for (size_t k = 0; k < cur->n_ipaddresses; k++)
		if (addr_request(fd, RTM_DELADDR, index, cur->ipaddresses[k], e) < 0)
			goto out;
	for (size_t k = 0; k < want->n_ipaddresses; k++)
		if (addr_request(fd, RTM_NEWADDR, index, want->ipaddresses[k], e) < 0) {
			err_ctx(e, "interface.IPAddresses[%zu]", k);
			goto out;
		}
	if (link_request(fd, index, IFF_UP, IFF_UP, NULL, 0, e) < 0)
		goto out;
	network_free_interfaces(il.l);
	free(il.index);
	il.l = NULL;
	il.index = NULL;
	if (list_ifaces(fd, &il, e) < 0)
		goto out;
	for (size_t k = 0; k < il.l->n_interfaces; k++) {
		if (il.index[k] == index) {
			*out = il.l->interfaces[k];
			il.l->interfaces[k] = il.l->interfaces[--il.l->n_interfaces];
			rc = 0;
		}
	}
	if (rc < 0)
		err_set(e, ENOENT, "interface vanished");
out:
	if (rc < 0)
		err_ctx(e, "UpdateInterface");
	network_free_interfaces(il.l);
	free(il.index);
	return rc;
}

static int add_route(int fd, struct iface_list *il, const Types__Route *rt, struct err *e)
{
	unsigned char dst[16], gw[16], src[16];
	int family = rt->family == TYPES__IPFAMILY__v6 ? AF_INET6 : AF_INET, f2, index = 0;
	struct nlreq r;
	unsigned dst_len = 0;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	r.rt.rtm_table = RT_TABLE_MAIN;
	r.rt.rtm_protocol = RTPROT_BOOT;
	r.rt.rtm_type = RTN_UNICAST;
	r.rt.rtm_scope = (unsigned char)rt->scope;
	if (rt->dest[0] && strcmp(rt->dest, "default") != 0) {
		cleanup_free char *d = strdup(rt->dest);
		char *slash;

		if (!d)
			return err_set(e, ENOMEM, "out of memory");
		slash = strchr(d, '/');
		if (slash)
			*slash++ = '\0';
		if (parse_addr(d, &family, dst, e) < 0)
			return err_ctx(e, "dest");
		dst_len = slash ? (unsigned)atoi(slash) : (family == AF_INET ? 32 : 128);
		add_attr(&r, RTA_DST, dst, family == AF_INET ? 4 : 16);
	}
	if (rt->gateway[0]) {
		if (parse_addr(rt->gateway, &f2, gw, e) < 0)
			return err_ctx(e, "gateway");
		family = f2;
		add_attr(&r, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
	}
	if (rt->source[0]) {
		if (parse_addr(rt->source, &f2, src, e) < 0)
			return err_ctx(e, "source");
		add_attr(&r, RTA_PREFSRC, src, f2 == AF_INET ? 4 : 16);
	}
	if (rt->device[0]) {
		for (size_t k = 0; k < il->l->n_interfaces; k++)
			if (!strcmp(il->l->interfaces[k]->name, rt->device))
				index = il->index[k];
		if (!index)
			return err_set(e, ENOENT, "device: no link \"%s\"", rt->device);
		add_attr(&r, RTA_OIF, &index, sizeof(index));
	}
	r.rt.rtm_family = (unsigned char)family;
	r.rt.rtm_dst_len = (unsigned char)dst_len;
	return nl_talk(fd, &r, NULL, NULL, e);
}

int network_update_routes(const Grpc__Routes *routes, struct err *e)
{
	struct iface_list il = {0};
	cleanup_close int fd = -1;
	int rc = 0;

	if (!routes || !routes->n_routes)
		return 0;
	fd = nl_open(e);
	if (fd < 0)
		return -1;
	if (list_ifaces(fd, &il, e) < 0)
		rc = -1;
	for (size_t k = 0; rc == 0 && k < routes->n_routes; k++)
		if (add_route(fd, &il, routes->routes[k], e) < 0)
			rc = err_ctx(e, "routes.Routes[%zu]", k);
	network_free_interfaces(il.l);
	free(il.index);
	return rc;
}

void network_free_interfaces(Grpc__Interfaces *l)
{
	if (l)
		protobuf_c_message_free_unpacked(&l->base, NULL);
}

void network_free_interface(Types__Interface *i)
{
	if (i)
		protobuf_c_message_free_unpacked(&i->base, NULL);
}

void network_free_routes(Grpc__Routes *l)
{
	if (l)
		protobuf_c_message_free_unpacked(&l->base, NULL);
}
