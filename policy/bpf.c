// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF part of the network policy (see bpf.h). What moat.conf asks for
 * is worked out first, as a `struct want' (cgroup ids, peers, cameras,
 * camera interfaces); applying makes the kernel hold it, verifying
 * compares the kernel with it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/hash.h"
#include "camnet.skel.h"
#include "gate.skel.h"
#include "roles.skel.h"

#include "capture/rtsp.h"
#include "common/subnet.h"
#include "common/wire.h"
#include "policy/bpf.h"
#include "policy/cgroup.h"
#include "policy/links.h"
#include "policy/policy.h"

_Static_assert((int)POL_HDR_LEN == (int)WIRE_HDR_LEN, "the gate frames relay headers");
_Static_assert((int)RELAY_T_HELLO == (int)WIRE_HELLO, "the gate knows HELLO");
_Static_assert((int)RELAY_T_AUTH == (int)WIRE_AUTH &&
		       (int)RELAY_AUTH_LEN == (int)WIRE_AUTH_LEN &&
		       (int)RELAY_T_VIEWERS == (int)WIRE_VIEWERS &&
		       (int)RELAY_VIEWERS_MAX == (int)WIRE_VIEWERS_MAX &&
		       (int)RELAY_VIEWER_KEY == (int)WIRE_VIEWER_KEY_LEN,
	       "the gate knows the login");
_Static_assert((int)RELAY_T_FINAL == (int)WIRE_RECORD_MAX, "the gate knows records");

enum {
	MAX_IFS = 64,
	TC_HANDLE = 0x6d6f, /* "mo" */
	TC_PRIO = 1,
};

/* Maps every object shares or the loader fills, pinned by name. */
static const char *const map_pins[] = {
	"blocked", "events", "counters", "cam_names", "roles",
	"allow",   "cameras", "camera_ifs", "gate_sks", "learned",
	"lan",
};

/* The cgroup links: pin name, program name, on the uplink's cgroup
 * (else on ROOT). */
static const struct {
	const char *pin, *prog;
	bool uplink;
} links[] = {
	{ "link_connect4", "moat_connect4", false },
	{ "link_connect6", "moat_connect6", false },
	{ "link_sendmsg4", "moat_sendmsg4", false },
	{ "link_sendmsg6", "moat_sendmsg6", false },
	{ "link_egress", "moat_egress", false },
	{ "link_ingress", "moat_ingress", false },
	{ "link_gate", "moat_gate", true },
};
#define N_LINKS (sizeof(links) / sizeof(links[0]))

struct want_if {
	unsigned int ifindex;
	char name[IF_NAMESIZE], net[IF_NAMESIZE]; /* port, and its bridge */
	bool isolated;				   /* as the kernel has it */
	struct pol_camif v;
};

struct want {
	char root[CG_PATH_MAX];
	uint64_t root_id, uplink_id;
	uint64_t role_id[CFG_MAX_CAMERAS + 2];
	struct pol_role role[CFG_MAX_CAMERAS + 2];
	size_t n_roles;
	struct pol_peer allow[POL_MAX_PEERS];
	size_t n_allow;
	struct pol_mac mac[CFG_MAX_CAMERAS];
	struct pol_camera cam[CFG_MAX_CAMERAS];
	size_t n_cams;
	struct want_if ifs[MAX_IFS];
	size_t n_ifs;
	struct pol_name names[POL_MAX_CAMERAS];
	struct pol_lan_key lan_key; /* lan_subnet, if n_lan */
	struct pol_lan lan;
	size_t n_lan;
};

/* ---- what moat.conf asks for ---- */

static int to16(const char *ip, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, ip, out) == 1)
		return 0;
	if (inet_pton(AF_INET, ip, &a4) != 1)
		return -EINVAL;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	return 0;
}

static int add_role(struct want *w, const struct cfg *c, enum role role,
		    int cam, uint32_t who, char *why, size_t why_len)
{
	char p[CG_PATH_MAX];
	int ret = cg_path(c, role, cam, p);

	if (!ret)
		ret = cg_id(p, &w->role_id[w->n_roles]);
	if (ret) {
		snprintf(why, why_len, "the cgroup %s: %s", p, strerror(-ret));
		return ret;
	}
	if (role == ROLE_UPLINK)
		w->uplink_id = w->role_id[w->n_roles];
	w->role[w->n_roles++].who = who;
	return 0;
}

static int add_peer(struct want *w, uint64_t cg, const char *ip,
		    unsigned int port)
{
	struct pol_peer *p;

	if (w->n_allow >= POL_MAX_PEERS)
		return -ENOSPC;
	p = &w->allow[w->n_allow];
	memset(p, 0, sizeof(*p));
	if (to16(ip, p->addr))
		return -EINVAL;
	p->cgroup = cg;
	p->port = htons((uint16_t)port);
	p->proto = IPPROTO_TCP;
	w->n_allow++;
	return 0;
}

static int relay_peers(struct want *w, const struct cfg *c, char *why,
		       size_t why_len)
{
	struct policy_addrs a;
	int ret = policy_relay_addrs(c->relay_host, &a, why, why_len);

	for (int i = 0; !ret && i < a.n; i++)
		ret = add_peer(w, w->uplink_id, a.ip[i], c->relay_port);
	return ret;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* An IP camera: its worker's peer, and (on a camera network) its MAC. */
static int camera(struct want *w, const struct cfg *c, size_t i,
		  uint64_t worker_cg, char *why, size_t why_len)
{
	const struct cfg_camera *cam = &c->cams[i];
	struct pol_camera *pc = &w->cam[w->n_cams];
	char ip[64];
	unsigned int port;
	int ret = policy_camera_addr(cam, ip, sizeof(ip), &port, why, why_len);

	if (ret)
		return ret;
	ret = add_peer(w, worker_cg, ip, port);
	if (ret) {
		snprintf(why, why_len, "[camera %s] address %s: %s", cam->name,
			 ip, strerror(-ret));
		return ret;
	}
	if (!c->camera_interfaces[0])
		return 0;
	if (!cam->mac[0]) {
		snprintf(why, why_len,
			 "[camera %s] has no mac: on a camera network the policy binds each camera's MAC to its address; add `mac = aa:bb:cc:dd:ee:ff' to its section",
			 cam->name);
		return -EINVAL;
	}
	memset(pc, 0, sizeof(*pc));
	if (parse_mac(cam->mac, w->mac[w->n_cams].mac) || to16(ip, pc->addr))
		return -EINVAL;
	pc->index = (uint32_t)i;
	pc->rtsp_port[0] = htons((uint16_t)port);
	if (cam->interface[0]) {
		pc->ifindex = if_nametoindex(cam->interface);
		if (!pc->ifindex) {
			snprintf(why, why_len,
				 "[camera %s] interface %s: no such interface on this host",
				 cam->name, cam->interface);
			return -ENODEV;
		}
	}
	w->n_cams++;
	return 0;
}

/* The hub on a camera network (a bridge or an interface): its MAC and
 * addresses. */
static int hub_side(const struct link *net, struct pol_camif *v, char *why,
		    size_t why_len)
{
	struct ifaddrs *ifa, *a;

	memset(v, 0, sizeof(*v));
	if (!net->has_mac) {
		snprintf(why, why_len,
			 "[hub] camera_interfaces: %s is not an Ethernet interface (it has no MAC address)",
			 net->name);
		return -ENODEV;
	}
	memcpy(v->hub_mac, net->mac, 6);
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (a = ifa; a; a = a->ifa_next) {
		if (!a->ifa_addr || strcmp(a->ifa_name, net->name))
			continue;
		if (a->ifa_addr->sa_family == AF_INET && v->n4 < POL_IF_ADDRS)
			v->addr4[v->n4++] =
				((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
		if (a->ifa_addr->sa_family == AF_INET6 && v->n6 < POL_IF_ADDRS)
			memcpy(v->addr6[v->n6++],
			       &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr,
			       16);
	}
	freeifaddrs(ifa);
	return 0;
}

static int add_if(struct want *w, const struct link *port,
		  const struct link *net, const struct pol_camif *v,
		  char *why, size_t why_len)
{
	struct want_if *wi;

	if (w->n_ifs >= MAX_IFS) {
		snprintf(why, why_len, "more than %d camera ports", MAX_IFS);
		return -ENOSPC;
	}
	wi = &w->ifs[w->n_ifs++];
	wi->ifindex = port->ifindex;
	wi->isolated = port->isolated;
	snprintf(wi->name, sizeof(wi->name), "%s", port->name);
	snprintf(wi->net, sizeof(wi->net), "%s", net->name);
	wi->v = *v;
	return 0;
}

/* A camera interface, or each port of a camera bridge. */
static int camera_net(struct want *w, const struct link *l, int n,
		      const char *name, char *why, size_t why_len)
{
	const struct link *net = NULL;
	struct pol_camif v;
	int ret = 0;

	for (int i = 0; i < n && !net; i++)
		if (!strcmp(l[i].name, name))
			net = &l[i];
	if (!net) {
		snprintf(why, why_len,
			 "[hub] camera_interfaces: there is no interface %s (ip link shows them)",
			 name);
		return -ENODEV;
	}
	ret = hub_side(net, &v, why, why_len);
	if (ret || !net->bridge)
		return ret ? ret : add_if(w, net, net, &v, why, why_len);
	for (int i = 0; !ret && i < n; i++)
		if (l[i].master == net->ifindex)
			ret = add_if(w, &l[i], net, &v, why, why_len);
	return ret;
}

static int camera_nets(struct want *w, const struct cfg *c, char *why,
		       size_t why_len)
{
	struct link *l;
	char name[CFG_IFNAME_MAX];
	int n, ret = 0;

	if (!c->camera_interfaces[0])
		return 0;
	l = calloc(LINKS_MAX, sizeof(*l));
	n = l ? links_get(l, LINKS_MAX) : -ENOMEM;
	if (n < 0) {
		snprintf(why, why_len, "cannot list the interfaces: %s",
			 strerror(-n));
		free(l);
		return n;
	}
	for (const char *p = c->camera_interfaces;
	     !ret && (p = cfg_next_interface(p, name));)
		ret = camera_net(w, l, n, name, why, why_len);
	free(l);
	return ret;
}

static int want_build(const struct cfg *c, struct want *w, char *why,
		      size_t why_len)
{
	int ret = cg_root(c, w->root);

	if (!ret)
		ret = cg_id(w->root, &w->root_id);
	if (ret) {
		snprintf(why, why_len, "the cgroup %s: %s", w->root,
			 strerror(-ret));
		return ret;
	}
	ret = add_role(w, c, ROLE_SEALER, -1, POL_WHO_SEALER, why, why_len);
	if (!ret)
		ret = add_role(w, c, ROLE_UPLINK, -1, POL_WHO_UPLINK, why,
			       why_len);
	if (!ret)
		ret = relay_peers(w, c, why, why_len);
	if (!ret && c->lan_subnet[0]) {
		struct subnet sn;
		char e[160];

		if (subnet_parse(c->lan_subnet, &sn, e, sizeof(e))) {
			snprintf(why, why_len, "[hub] lan_subnet `%s' %s",
				 c->lan_subnet, e);
			return -EINVAL;
		}
		w->lan_key.prefixlen = sn.bits;
		memcpy(w->lan_key.addr, sn.addr, 16);
		w->lan.port = htons(c->lan_port);
		w->n_lan = 1;
	}
	for (size_t i = 0; !ret && i < c->n_cams; i++) {
		snprintf(w->names[i].name, sizeof(w->names[i].name), "%s",
			 c->cams[i].name);
		ret = add_role(w, c, ROLE_WORKER, (int)i,
			       POL_WHO_WORKER | (uint32_t)i, why, why_len);
		if (!ret && c->cams[i].kind == CAM_RTSP)
			ret = camera(w, c, i, w->role_id[w->n_roles - 1], why,
				     why_len);
	}
	return ret ? ret : camera_nets(w, c, why, why_len);
}

/* ---- the kernel ---- */

static int pin_path(const struct cfg *c, const char *name, char *out,
		    size_t len)
{
	return snprintf(out, len, "%s/%s", c->bpf_pin, name) >= (int)len ?
		       -ENAMETOOLONG :
		       0;
}

static int pinned(const struct cfg *c, const char *name)
{
	char p[CFG_STR_MAX + 32];

	if (pin_path(c, name, p, sizeof(p)))
		return -ENAMETOOLONG;
	return bpf_obj_get(p);
}

/* bpffs under the pin folder (mounted at /sys/fs/bpf if it is not). */
static int pin_dir(const struct cfg *c, char *why, size_t why_len)
{
	char parent[CFG_STR_MAX];
	struct statfs fs;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", c->bpf_pin);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &fs) == 0 && fs.f_type != BPF_FS_MAGIC &&
	    !strcmp(parent, "/sys/fs/bpf") &&
	    mount("bpf", parent, "bpf", 0, "mode=0700") < 0) {
		snprintf(why, why_len, "cannot mount bpffs on %s: %s", parent,
			 strerror(errno));
		return -errno;
	}
	if (statfs(parent, &fs) < 0 || fs.f_type != BPF_FS_MAGIC) {
		snprintf(why, why_len,
			 "[hub] bpf_pin %s is not on a bpf file system (mount -t bpf bpf %s)",
			 c->bpf_pin, parent);
		return -ENOTDIR;
	}
	if (mkdir(c->bpf_pin, 0700) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot make %s: %s", c->bpf_pin,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/* Makes a hash map hold exactly keys[i] -> vals[i]. */
static int sync_map(int fd, const void *keys, const void *vals, size_t n,
		    size_t ksz, size_t vsz)
{
	uint8_t cur[64], next[64];
	void *prev = NULL;
	int ret = 0;

	/* new and changed entries first: nothing allowed before is
	 * refused while this runs, nothing not yet allowed passes */
	for (size_t i = 0; !ret && i < n; i++)
		if (bpf_map_update_elem(fd, (const uint8_t *)keys + i * ksz,
					(const uint8_t *)vals + i * vsz,
					BPF_ANY))
			ret = -errno;
	while (!ret && bpf_map_get_next_key(fd, prev, next) == 0) {
		bool keep = false;

		for (size_t i = 0; i < n && !keep; i++)
			keep = !memcmp(next, (const uint8_t *)keys + i * ksz, ksz);
		memcpy(cur, next, ksz);
		if (!keep && bpf_map_delete_elem(fd, cur) == 0) {
			prev = NULL; /* start over: the walk lost its place */
			continue;
		}
		prev = cur;
	}
	return ret;
}

static int sync_all(const struct want *w, struct roles_bpf *r,
		    struct camnet_bpf *cn)
{
	static const uint8_t one[POL_MAX_PEERS] = { [0 ... POL_MAX_PEERS - 1] = 1 };
	uint32_t ifx[MAX_IFS];
	struct pol_camif ifv[MAX_IFS];
	int ret;

	for (size_t i = 0; i < w->n_ifs; i++) {
		ifx[i] = w->ifs[i].ifindex;
		ifv[i] = w->ifs[i].v;
	}
	ret = sync_map(bpf_map__fd(r->maps.roles), w->role_id, w->role,
		       w->n_roles, sizeof(uint64_t), sizeof(struct pol_role));
	if (!ret)
		ret = sync_map(bpf_map__fd(r->maps.allow), w->allow, one,
			       w->n_allow, sizeof(struct pol_peer), 1);
	if (!ret)
		ret = sync_map(bpf_map__fd(r->maps.lan), &w->lan_key, &w->lan,
			       w->n_lan, sizeof(struct pol_lan_key),
			       sizeof(struct pol_lan));
	if (!ret)
		ret = sync_map(bpf_map__fd(cn->maps.cameras), w->mac, w->cam,
			       w->n_cams, sizeof(struct pol_mac),
			       sizeof(struct pol_camera));
	if (!ret)
		ret = sync_map(bpf_map__fd(cn->maps.camera_ifs), ifx, ifv,
			       w->n_ifs, sizeof(uint32_t),
			       sizeof(struct pol_camif));
	for (uint32_t i = 0; !ret && i < POL_MAX_CAMERAS; i++)
		if (bpf_map_update_elem(bpf_map__fd(r->maps.cam_names), &i,
					&w->names[i], BPF_ANY))
			ret = -errno;
	return ret;
}

/* Attaches prog to the cgroup through the link pinned as name, updating
 * the link if it is already there. */
static int link_cg(const struct cfg *c, const char *name,
		   struct bpf_program *prog, const char *cg, uint64_t cg_id,
		   char *why, size_t why_len)
{
	enum bpf_attach_type at = bpf_program__expected_attach_type(prog);
	char p[CFG_STR_MAX + 32];
	int fd, cg_fd, ret;

	pin_path(c, name, p, sizeof(p));
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		struct bpf_link_info info = { 0 };
		__u32 len = sizeof(info);

		ret = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (!ret && info.type == BPF_LINK_TYPE_CGROUP &&
		    info.cgroup.cgroup_id == cg_id &&
		    info.cgroup.attach_type == at &&
		    !bpf_link_update(fd, bpf_program__fd(prog), NULL)) {
			close(fd);
			return 0;
		}
		close(fd);
		unlink(p); /* for another cgroup, or its cgroup is gone */
	}
	cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot open the cgroup %s: %s", cg,
			 strerror(errno));
		return ret;
	}
	fd = bpf_link_create(bpf_program__fd(prog), cg_fd, at, NULL);
	ret = fd < 0 ? -errno : 0;
	close(cg_fd);
	if (!ret && bpf_obj_pin(fd, p) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		snprintf(why, why_len, "cannot attach %s to the cgroup %s: %s",
			 bpf_program__name(prog), cg, strerror(-ret));
	return ret;
}

static int tc_attach(unsigned int ifindex, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(unsigned int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

/* The program attached to ifindex's ingress by moat, or 0. */
static uint32_t tc_prog(unsigned int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

/* Interfaces the pinned camera_ifs map names that w no longer has. */
static void tc_forget(const struct cfg *c, const struct want *w)
{
	int fd = pinned(c, "camera_ifs");
	uint32_t k, *prev = NULL;

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		bool keep = false;

		for (size_t i = 0; i < w->n_ifs; i++)
			keep |= w->ifs[i].ifindex == k;
		if (!keep)
			tc_detach(k);
		prev = &k;
	}
	close(fd);
}

/* A camera bridge's ports may not talk to each other (isolated). */
static bool isolated(const struct want_if *wi, bool set)
{
	if (!strcmp(wi->name, wi->net))
		return true; /* not a bridge port */
	return set ? links_isolate(wi->ifindex) == 0 : wi->isolated;
}

static int attach_all(const struct cfg *c, const struct want *w,
		      struct roles_bpf *r, struct gate_bpf *g,
		      struct camnet_bpf *cn, char *why, size_t why_len)
{
	char up[CG_PATH_MAX + 8], p[CFG_STR_MAX + 32];
	int ret = 0;

	snprintf(up, sizeof(up), "%s/uplink", w->root);
	for (size_t i = 0; !ret && i < N_LINKS; i++) {
		struct bpf_object *o = links[i].uplink ? g->obj : r->obj;
		struct bpf_program *prog =
			bpf_object__find_program_by_name(o, links[i].prog);

		ret = link_cg(c, links[i].pin, prog,
			      links[i].uplink ? up : w->root,
			      links[i].uplink ? w->uplink_id : w->root_id, why,
			      why_len);
	}
	for (size_t i = 0; !ret && i < w->n_ifs; i++) {
		ret = tc_attach(w->ifs[i].ifindex,
				bpf_program__fd(cn->progs.moat_camnet));
		if (ret)
			snprintf(why, why_len,
				 "cannot attach the camera filter to %s: %s",
				 w->ifs[i].name, strerror(-ret));
		else if (!isolated(&w->ifs[i], true))
			snprintf(why, why_len,
				 "cannot isolate the bridge port %s of %s",
				 w->ifs[i].name, w->ifs[i].net),
				ret = -EIO;
	}
	if (!ret) {
		pin_path(c, "prog_camnet", p, sizeof(p));
		unlink(p);
		if (bpf_program__pin(cn->progs.moat_camnet, p)) {
			ret = -errno;
			snprintf(why, why_len, "cannot pin %s: %s", p,
				 strerror(errno));
		}
	}
	return ret;
}

struct objs {
	struct roles_bpf *r;
	struct gate_bpf *g;
	struct camnet_bpf *cn;
};

static void objs_free(struct objs *o)
{
	roles_bpf__destroy(o->r);
	gate_bpf__destroy(o->g);
	camnet_bpf__destroy(o->cn);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* the verifier's log on a failure is worth seeing; chatter is not */
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int objs_load(const struct cfg *c, struct objs *o, char *why,
		     size_t why_len)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, opts,
			    .pin_root_path = c->bpf_pin);
	int ret;

	libbpf_set_print(libbpf_quiet);
	o->r = roles_bpf__open_opts(&opts);
	o->g = gate_bpf__open_opts(&opts);
	o->cn = camnet_bpf__open_opts(&opts);
	if (!o->r || !o->g || !o->cn) {
		snprintf(why, why_len, "cannot open the BPF objects: %s",
			 strerror(errno));
		return -errno;
	}
	ret = roles_bpf__load(o->r);
	if (!ret)
		ret = gate_bpf__load(o->g);
	if (!ret)
		ret = camnet_bpf__load(o->cn);
	if (ret)
		snprintf(why, why_len,
			 "the kernel refused the BPF programs (%s); if an older moat's maps are pinned in %s, `moatctl policy remove' first",
			 strerror(-ret), c->bpf_pin);
	return ret;
}

int polbpf_apply(const struct cfg *c, char *why, size_t why_len)
{
	struct want *w = calloc(1, sizeof(*w));
	struct objs o = { 0 };
	int ret = w ? cg_make(c, why, why_len) : -ENOMEM;

	if (!ret)
		ret = want_build(c, w, why, why_len);
	if (!ret)
		ret = pin_dir(c, why, why_len);
	if (!ret)
		ret = objs_load(c, &o, why, why_len);
	if (!ret)
		tc_forget(c, w);
	if (!ret) {
		/* the maps first: a program attached before them would see
		 * no roles and refuse everything */
		ret = sync_all(w, o.r, o.cn);
		if (ret)
			snprintf(why, why_len, "cannot fill the policy's maps: %s",
				 strerror(-ret));
	}
	if (!ret)
		ret = attach_all(c, w, o.r, o.g, o.cn, why, why_len);
	objs_free(&o);
	free(w);
	return ret;
}

int polbpf_gate(const struct cfg *c, bool on, char *why, size_t why_len)
{
	struct objs o = { 0 };
	char p[CFG_STR_MAX + 32], up[CG_PATH_MAX];
	uint64_t id;
	int ret;

	if (!on) {
		pin_path(c, "link_gate", p, sizeof(p));
		return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
	}
	ret = cg_path(c, ROLE_UPLINK, -1, up);
	if (!ret)
		ret = cg_id(up, &id);
	if (!ret)
		ret = objs_load(c, &o, why, why_len);
	if (!ret)
		ret = link_cg(c, "link_gate", o.g->progs.moat_gate, up, id, why,
			      why_len);
	objs_free(&o);
	return ret;
}

/* ---- verify, status ---- */

__attribute__((format(printf, 2, 3))) static void problem(struct sbuf *out,
							  const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sb_printf(out, "%s\n", line);
}

/* Whether the pinned map `name' holds exactly keys[i] -> vals[i]. */
static bool map_holds(const struct cfg *c, const char *name, const void *keys,
		      const void *vals, size_t n, size_t ksz, size_t vsz)
{
	uint8_t v[sizeof(struct pol_camif)], k[64], *prev = NULL;
	int fd = pinned(c, name);
	size_t count = 0;
	bool ok = fd >= 0;

	for (size_t i = 0; ok && i < n; i++)
		ok = bpf_map_lookup_elem(fd, (const uint8_t *)keys + i * ksz,
					 v) == 0 &&
		     (!vals || !memcmp(v, (const uint8_t *)vals + i * vsz, vsz));
	while (ok && bpf_map_get_next_key(fd, prev, k) == 0) {
		count++;
		prev = k;
	}
	if (fd >= 0)
		close(fd);
	return ok && count == n;
}

/* A pinned cgroup link: attached to cg_id with the named program, and
 * that program among the cgroup's effective ones. */
static bool link_ok(const struct cfg *c, size_t i, const char *cg,
		    uint64_t cg_id, uint32_t *prog_id)
{
	struct bpf_link_info info = { 0 };
	struct bpf_prog_info pinfo = { 0 };
	__u32 len = sizeof(info), plen = sizeof(pinfo), ids[64], n = 64;
	int fd = pinned(c, links[i].pin), pfd, cg_fd;
	bool ok;

	*prog_id = 0;
	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	     info.type == BPF_LINK_TYPE_CGROUP &&
	     info.cgroup.cgroup_id == cg_id;
	close(fd);
	pfd = ok ? bpf_prog_get_fd_by_id(info.prog_id) : -1;
	ok = pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pinfo, &plen) &&
	     !strncmp(pinfo.name, links[i].prog, sizeof(pinfo.name) - 1);
	if (pfd >= 0)
		close(pfd);
	cg_fd = ok ? open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	ok = cg_fd >= 0 &&
	     !bpf_prog_query(cg_fd, info.cgroup.attach_type,
			     BPF_F_QUERY_EFFECTIVE, NULL, ids, &n);
	if (cg_fd >= 0)
		close(cg_fd);
	for (__u32 k = 0; ok && k < n; k++)
		if (ids[k] == info.prog_id)
			*prog_id = info.prog_id;
	return ok && *prog_id;
}

static void verify_links(const struct cfg *c, const struct want *w,
			 struct sbuf *out)
{
	char up[CG_PATH_MAX + 8];
	uint32_t id;

	snprintf(up, sizeof(up), "%s/uplink", w->root);
	for (size_t i = 0; i < N_LINKS; i++)
		if (!link_ok(c, i, links[i].uplink ? up : w->root,
			     links[i].uplink ? w->uplink_id : w->root_id, &id))
			problem(out,
				"BPF: %s is not attached to the cgroup %s (moatctl policy apply)",
				links[i].prog, links[i].uplink ? up : w->root);
}

static void verify_tc(const struct cfg *c, const struct want *w,
		      struct sbuf *out)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = pinned(c, "prog_camnet");
	uint32_t want_id = 0;

	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
		want_id = info.id;
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < w->n_ifs; i++) {
		const struct want_if *wi = &w->ifs[i];

		if (!want_id || tc_prog(wi->ifindex) != want_id)
			problem(out,
				"BPF: the camera filter is not on %s's ingress (moatctl policy apply)",
				wi->name);
		if (!isolated(wi, false))
			problem(out,
				"bridge %s: port %s is not isolated, so cameras could talk past the hub (moatctl policy apply)",
				wi->net, wi->name);
	}
}

static void verify_maps(const struct cfg *c, const struct want *w,
			struct sbuf *out)
{
	uint32_t ifx[MAX_IFS];
	struct pol_camif ifv[MAX_IFS];

	for (size_t i = 0; i < w->n_ifs; i++) {
		ifx[i] = w->ifs[i].ifindex;
		ifv[i] = w->ifs[i].v;
	}
	if (!map_holds(c, "roles", w->role_id, w->role, w->n_roles,
		       sizeof(uint64_t), sizeof(struct pol_role)))
		problem(out,
			"BPF: the roles map does not hold this config's roles and their cgroups (moatctl policy apply)");
	if (!map_holds(c, "allow", w->allow, NULL, w->n_allow,
		       sizeof(struct pol_peer), 1))
		problem(out,
			"BPF: the allow map does not hold this config's cameras and relay (moatctl policy apply)");
	if (!map_holds(c, "lan", &w->lan_key, &w->lan, w->n_lan,
		       sizeof(struct pol_lan_key), sizeof(struct pol_lan)))
		problem(out,
			"BPF: the lan map does not hold this config's lan_subnet and lan_port (moatctl policy apply)");
	if (!map_holds(c, "cameras", w->mac, w->cam, w->n_cams,
		       sizeof(struct pol_mac), sizeof(struct pol_camera)))
		problem(out,
			"BPF: the cameras map does not bind this config's MACs and addresses (moatctl policy apply)");
	if (!map_holds(c, "camera_ifs", ifx, ifv, w->n_ifs, sizeof(uint32_t),
		       sizeof(struct pol_camif)))
		problem(out,
			"BPF: the camera interfaces or the hub's addresses on them changed since the policy was applied (moatctl policy apply)");
}

int polbpf_verify(const struct cfg *c, struct sbuf *out)
{
	struct want *w = calloc(1, sizeof(*w));
	char why[512] = "";
	size_t before = out->len;
	int n = 0;

	if (!w)
		return -ENOMEM;
	if (want_build(c, w, why, sizeof(why))) {
		problem(out, "%s (moatctl policy apply)", why);
		free(w);
		return 1;
	}
	verify_maps(c, w, out);
	verify_links(c, w, out);
	verify_tc(c, w, out);
	free(w);
	for (size_t i = before; out->p && i < out->len; i++)
		n += out->p[i] == '\n';
	return n;
}

int polbpf_gate_runtime(const struct cfg *c, uint64_t *ns, uint64_t *runs)
{
	struct bpf_link_info li = { 0 };
	struct bpf_prog_info pi = { 0 };
	__u32 ll = sizeof(li), pl = sizeof(pi);
	int fd = pinned(c, "link_gate"), pfd = -1, ret = -ENOENT;

	*ns = *runs = 0;
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &li, &ll))
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &pl)) {
		*ns = pi.run_time_ns;
		*runs = pi.run_cnt;
		ret = 0;
	}
	if (pfd >= 0)
		close(pfd);
	if (fd >= 0)
		close(fd);
	return ret;
}

int polbpf_counters(const struct cfg *c, uint64_t out[POL_C_MAX])
{
	int fd = pinned(c, "counters"), ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	memset(out, 0, sizeof(uint64_t) * POL_C_MAX);
	if (fd < 0)
		return -ENOENT;
	v = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*v));
	for (uint32_t k = 0; v && k < POL_C_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, v) == 0)
			for (int i = 0; i < ncpu; i++)
				out[k] += v[i];
	free(v);
	close(fd);
	return 0;
}

static const char *const counter_names[POL_C_MAX] = {
	[POL_C_PASS_CAMERA] = "camera_frames_passed",
	[POL_C_DROP_CAMERA] = "camera_frames_dropped",
	[POL_C_PASS_ROLE] = "role_allowed",
	[POL_C_DROP_ROLE] = "role_refused",
	[POL_C_GATE_FRAMES] = "gate_frames",
	[POL_C_GATE_BYTES] = "gate_bytes",
	[POL_C_GATE_DROPS] = "gate_dropped_packets",
	[POL_C_GATE_KILLED] = "gate_killed_connections",
	[POL_C_LOST_EVENTS] = "events_lost",
};

int polbpf_status(const struct cfg *c, struct sbuf *out, bool json)
{
	struct want *w = calloc(1, sizeof(*w));
	uint64_t cnt[POL_C_MAX];
	char why[512] = "", up[CG_PATH_MAX + 8];
	int have = polbpf_counters(c, cnt) == 0;

	if (!w)
		return -ENOMEM;
	want_build(c, w, why, sizeof(why));
	snprintf(up, sizeof(up), "%s/uplink", w->root);
	sb_printf(out, json ? "  \"bpf\": {\n    \"pinned\": %s,\n    \"attached\": [" :
			      "BPF (pinned in %s):\n",
		  json ? (have ? "true" : "false") : c->bpf_pin);
	for (size_t i = 0; i < N_LINKS; i++) {
		const char *cg = links[i].uplink ? up : w->root;
		uint32_t id;
		bool ok = link_ok(c, i, cg,
				  links[i].uplink ? w->uplink_id : w->root_id,
				  &id);

		if (json)
			sb_printf(out,
				  "%s\n      {\"program\": \"%s\", \"cgroup\": \"%s\", \"attached\": %s, \"id\": %u}",
				  i ? "," : "", links[i].prog, cg,
				  ok ? "true" : "false", id);
		else
			sb_printf(out, "  %-14s %s %s\n", links[i].prog,
				  ok ? "on cgroup" : "NOT on cgroup", cg);
	}
	for (size_t i = 0; i < w->n_ifs; i++) {
		uint32_t id = tc_prog(w->ifs[i].ifindex);

		if (json)
			sb_printf(out,
				  ",\n      {\"program\": \"moat_camnet\", \"interface\": \"%s\", \"attached\": %s, \"id\": %u}",
				  w->ifs[i].name, id ? "true" : "false", id);
		else
			sb_printf(out, "  %-14s %s %s ingress (camera network %s)\n",
				  "moat_camnet", id ? "on" : "NOT on",
				  w->ifs[i].name, w->ifs[i].net);
	}
	sb_printf(out, json ? "\n    ],\n    \"counters\": {" : "counters:\n");
	for (int k = 0; k < POL_C_MAX; k++) {
		if (json)
			sb_printf(out, "%s\n      \"%s\": %llu", k ? "," : "",
				  counter_names[k], (unsigned long long)cnt[k]);
		else
			sb_printf(out, "  %-24s %llu\n", counter_names[k],
				  (unsigned long long)cnt[k]);
	}
	if (json)
		sb_printf(out, "\n    }\n  }");
	free(w);
	return 0;
}

int polbpf_remove(const struct cfg *c, char *why, size_t why_len)
{
	char p[CFG_STR_MAX + 32];
	int fd = pinned(c, "camera_ifs");
	uint32_t k, *prev = NULL;

	if (fd >= 0) {
		while (bpf_map_get_next_key(fd, prev, &k) == 0) {
			tc_detach(k);
			prev = &k;
		}
		close(fd);
	}
	/* a link goes when its last pin (and fd) does */
	for (size_t i = 0; i < N_LINKS; i++) {
		pin_path(c, links[i].pin, p, sizeof(p));
		unlink(p);
	}
	pin_path(c, "prog_camnet", p, sizeof(p));
	unlink(p);
	for (size_t i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++) {
		pin_path(c, map_pins[i], p, sizeof(p));
		unlink(p);
	}
	if (rmdir(c->bpf_pin) < 0 && errno != ENOENT) {
		snprintf(why, why_len, "cannot remove %s: %s", c->bpf_pin,
			 strerror(errno));
		return -errno;
	}
	if (cg_remove(c))
		snprintf(why, why_len,
			 "some of moat's cgroups still hold processes (stop moatd first)");
	return 0;
}

/* ---- the log ---- */

void polbpf_who(int names_fd, uint32_t who, char *out, size_t len)
{
	struct pol_name n = { "" };
	uint32_t i = who & POL_WHO_INDEX;

	if ((who & POL_WHO_KIND) == POL_WHO_CAMERA ||
	    (who & POL_WHO_KIND) == POL_WHO_WORKER) {
		if (names_fd < 0 || bpf_map_lookup_elem(names_fd, &i, &n) ||
		    !n.name[0])
			snprintf(n.name, sizeof(n.name), "camera #%u", i);
		n.name[sizeof(n.name) - 1] = '\0';
	}
	switch (who & POL_WHO_KIND) {
	case POL_WHO_CAMERA:
		snprintf(out, len, "%s", n.name);
		break;
	case POL_WHO_WORKER:
		snprintf(out, len, "worker of %s", n.name);
		break;
	case POL_WHO_SEALER:
		snprintf(out, len, "sealer");
		break;
	case POL_WHO_UPLINK:
		snprintf(out, len, "uplink");
		break;
	default:
		snprintf(out, len, "unknown device");
	}
}

void polbpf_addr(const uint8_t a[16], char *out, size_t len)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, 12))
		inet_ntop(AF_INET, a + 12, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)len);
}

void polbpf_what(const struct pol_block_key *k, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int port = ntohs(k->port);

	polbpf_addr(k->addr, a, sizeof(a));
	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		snprintf(out, len, "%s%s%s:%u/%s", strchr(a, ':') ? "[" : "", a,
			 strchr(a, ':') ? "]" : "", port,
			 k->proto == IPPROTO_TCP ? "tcp" : "udp");
		break;
	case IPPROTO_ICMP:
		snprintf(out, len, "%s icmp type %u", a, port);
		break;
	case IPPROTO_ICMPV6:
		snprintf(out, len, "%s icmpv6 type %u", a, port);
		break;
	case POL_PROTO_ARP:
		snprintf(out, len, "ARP %s %s",
			 k->reason == POL_R_ARP_CLAIM ? "claiming" : "for", a);
		break;
	case POL_PROTO_ETHER:
		snprintf(out, len, "ethertype 0x%04x", port);
		break;
	default:
		snprintf(out, len, "%s protocol %u", a, k->proto);
	}
}

const char *polbpf_reason(uint32_t who, uint8_t reason)
{
	if ((who & POL_WHO_KIND) >= POL_WHO_WORKER &&
	    (who & POL_WHO_KIND) <= POL_WHO_UPLINK && reason == POL_R_DEST)
		return "a peer this role may not reach";
	if ((who & POL_WHO_KIND) >= POL_WHO_WORKER &&
	    (who & POL_WHO_KIND) <= POL_WHO_UPLINK && reason == POL_R_PROTO)
		return "a protocol this role may not use";
	static const char *const r[POL_R_MAX] = {
		[POL_R_DEST] = "not for the hub",
		[POL_R_PORT] = "a hub port it may not use",
		[POL_R_PROTO] = "a protocol it may not use",
		[POL_R_SPOOF_IP] = "a source address not its own",
		[POL_R_SPOOF_MAC] = "spoofed ARP sender",
		[POL_R_ARP_CLAIM] = "ARP claim on an address not its own",
		[POL_R_UNKNOWN_MAC] = "a MAC no camera has",
		[POL_R_ETHERTYPE] = "not IPv4, IPv6 or ARP",
		[POL_R_FRAGMENT] = "an IP fragment",
		[POL_R_WRONG_PORT] = "another camera's MAC, or its own on another port",
		[POL_R_GATE] = "bytes that are not relay frames",
		[POL_R_GATE_TFO] = "data in a SYN (TCP Fast Open)",
		[POL_R_GATE_FLOW] = "data on a connection the gate did not see open",
	};

	return reason < POL_R_MAX && r[reason] ? r[reason] : "refused";
}

bool polbpf_recently(struct polbpf_recent *r, const struct pol_event *e)
{
	const uint64_t every_ns = 10ULL * 1000000000ULL;
	uint64_t h = fnv1a64(&e->key, sizeof(e->key));

	for (size_t i = 0; i < POLBPF_RECENT; i++) {
		if (r->e[i].hash == h) {
			if (e->ts_ns - r->e[i].at < every_ns)
				return true;
			r->e[i].at = e->ts_ns;
			return false;
		}
	}
	r->e[r->next].hash = h;
	r->e[r->next].at = e->ts_ns;
	r->next = (r->next + 1) % POLBPF_RECENT;
	return false;
}

double polbpf_wall(uint64_t mono_ns)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return (double)r.tv_sec + r.tv_nsec / 1e9 -
	       ((double)m.tv_sec + m.tv_nsec / 1e9 - mono_ns / 1e9);
}

static int by_last(const void *a, const void *b)
{
	const struct polbpf_blocked *x = a, *y = b;

	return x->val.last_ns < y->val.last_ns ? 1 :
	       x->val.last_ns > y->val.last_ns ? -1 :
						 0;
}

int polbpf_blocked(const struct cfg *c, struct polbpf_blocked **out, size_t *n)
{
	int fd = pinned(c, "blocked"), names = pinned(c, "cam_names");
	struct pol_block_key k, *prev = NULL;
	struct polbpf_blocked *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0) {
		if (names >= 0)
			close(names);
		return -ENOENT;
	}
	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		if (*n == cap) {
			struct polbpf_blocked *m;

			cap = cap ? cap * 2 : 64;
			m = realloc(v, cap * sizeof(*v));
			if (!m)
				break;
			v = m;
		}
		v[*n].key = k;
		if (bpf_map_lookup_elem(fd, &k, &v[*n].val) == 0) {
			polbpf_who(names, k.who, v[*n].who, sizeof(v[*n].who));
			(*n)++;
		}
		prev = &k;
	}
	close(fd);
	if (names >= 0)
		close(names);
	if (v)
		qsort(v, *n, sizeof(*v), by_last);
	*out = v;
	return 0;
}

struct ring_buffer *polbpf_events(const struct cfg *c,
				  int (*fn)(void *arg, void *data, size_t len),
				  void *arg, int *names_fd, int *events_fd)
{
	int fd = pinned(c, "events");
	struct ring_buffer *rb;

	*names_fd = *events_fd = -1;
	if (fd < 0)
		return NULL;
	/* the ring buffer polls fd: it stays open as long as rb does */
	rb = ring_buffer__new(fd, fn, arg, NULL);
	if (!rb) {
		close(fd);
		return NULL;
	}
	*events_fd = fd;
	*names_fd = pinned(c, "cam_names");
	return rb;
}
