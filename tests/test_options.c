/*
 * Device options end to end: TAP devices and their MAC, routes, bridges
 * and the transmit queue length, asked for by an unprivileged client of a
 * real tunbrokerd in a fresh network namespace, and checked against what
 * the kernel reports over rtnetlink.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "codec.h"
#include "fdpass.h"
#include "netinfo.h"
#include "testlib.h"
#include "tunclient.h"

/* The rule of every test here: TUN and TAP, the test ranges. */
#define ALLOW_TAP	"users = 65534\ndevice-types = tun, tap\n"
#define ALLOW_ROUTES	"routes = 198.18.0.0/15, 2001:db8::/32, " \
			"0.0.0.0/0, ::/0\n"
#define ALLOW_BRIDGES	"bridges = br0, notbr0, nobr0\n"
/* [rule test] sits on this line of the file testlib_broker_start writes. */
#define RULE_LINE	8

#define MAX_ROUTES	6

struct route_ask {
	const char *cidr;
	unsigned metric;
};

/* What an unprivileged client asks for. */
struct ask {
	const char *socket_path;
	bool tap;
	const char *name;
	const char *mac;
	const char *bridge;
	const char *addrs[2];
	struct route_ask routes[MAX_ROUTES];
	unsigned mtu;
	unsigned txqueuelen;
};

/* What it got, as the lease says, reported to the test process. */
struct outcome {
	int code;
	bool builder;		/* the library refused before sending */
	char text[TB_ERROR_TEXT_MAX];
	char name[IFNAMSIZ];
	unsigned ifindex;
	unsigned mtu;
	unsigned txqueuelen;
	int type;
	char mac[TB_MAC_TEXT_MAX];
	char bridge[IFNAMSIZ];
	size_t nroutes;
	char routes[MAX_ROUTES][64];
	unsigned metrics[MAX_ROUTES];
	int fd;			/* the device, now the test's; or -1 */
};

/* Builds the request a describes; 0 or the failing call's errno. */
static int
build_request(const struct ask *a, struct tunclient_request *req)
{
	size_t i;
	int r = 0;

	if (a->tap)
		r = tunclient_request_set_type(req, TUNCLIENT_TAP);
	if (r == 0 && a->name != NULL)
		r = tunclient_request_set_name(req, a->name);
	if (r == 0 && a->mac != NULL)
		r = tunclient_request_set_mac(req, a->mac);
	if (r == 0 && a->bridge != NULL)
		r = tunclient_request_set_bridge(req, a->bridge);
	for (i = 0; r == 0 && i < 2 && a->addrs[i] != NULL; i++)
		r = tunclient_request_add_address(req, a->addrs[i]);
	for (i = 0; r == 0 && i < MAX_ROUTES && a->routes[i].cidr != NULL; i++)
		r = tunclient_request_add_route(req, a->routes[i].cidr,
		    a->routes[i].metric);
	if (r == 0 && a->mtu != 0)
		r = tunclient_request_set_mtu(req, a->mtu);
	if (r == 0 && a->txqueuelen != 0)
		r = tunclient_request_set_txqueuelen(req, a->txqueuelen);
	return r;
}

/* Copies what the lease says into out. */
static void
read_lease(const struct tunclient_lease *lease, struct outcome *out)
{
	const char *bridge = tunclient_lease_bridge(lease);
	size_t i;

	snprintf(out->name, sizeof(out->name), "%s",
	    tunclient_lease_name(lease));
	out->ifindex = tunclient_lease_ifindex(lease);
	out->mtu = tunclient_lease_mtu(lease);
	out->txqueuelen = tunclient_lease_txqueuelen(lease);
	out->type = tunclient_lease_type(lease);
	if (tunclient_lease_mac(lease, out->mac, sizeof(out->mac)) != 0)
		out->mac[0] = '\0';
	snprintf(out->bridge, sizeof(out->bridge), "%s",
	    bridge != NULL ? bridge : "");
	out->nroutes = tunclient_lease_route_count(lease);
	for (i = 0; i < out->nroutes && i < MAX_ROUTES; i++)
		tunclient_lease_route(lease, i, out->routes[i], 64,
		    &out->metrics[i]);
}

/*
 * Runs as the unprivileged user: requests a device through libtunclient
 * and sends the outcome, with the device's fd, back over chan.
 */
static int
client_request(void *arg, int chan)
{
	const struct ask *a = arg;
	struct tunclient_request *req = NULL;
	struct tunclient_lease *lease = NULL;
	struct tunclient_conn *conn = NULL;
	struct outcome out = { .fd = -1 };
	int fd = -1, r;

	if ((r = tunclient_request_new(&req)) == 0 &&
	    (r = build_request(a, req)) != 0) {
		out.builder = true;
		snprintf(out.text, sizeof(out.text), "%s",
		    tunclient_request_error(req));
	} else if (r == 0 && (r = tunclient_connect(a->socket_path, &conn))
	    != 0) {
		snprintf(out.text, sizeof(out.text), "connect: %s",
		    strerror(-r));
	} else if (r == 0 && (r = tunclient_request(conn, req, &lease)) != 0) {
		snprintf(out.text, sizeof(out.text), "%s",
		    tunclient_conn_error(conn));
	} else if (r == 0) {
		read_lease(lease, &out);
		fd = tunclient_lease_fd(lease, 0);
	}
	out.code = r;
	r = tb_send(chan, &out, sizeof(out), &fd, fd >= 0 ? 1 : 0);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	tunclient_request_free(req);
	return r == 0 ? 0 : 1;
}

/* Asks as uid 65534 and returns what happened. */
static struct outcome
ask_as_nobody(struct ask a)
{
	struct outcome out;
	int fds[TB_MSG_MAX_FDS];
	size_t nfds;

	nfds = testlib_report_as(TESTLIB_UID, client_request, &a, &out,
	    sizeof(out), fds);
	out.fd = testlib_report_fd(fds, nfds, out.code == 0);
	return out;
}

/* Checks the refusal: the code, and the sentence containing want. */
static void
assert_refused(const struct outcome *out, int code, const char *want)
{
	ck_assert_msg(out->code == code, "expected %s, got %d (%s): %s",
	    strerror(-code), out->code, strerror(-out->code), out->text);
	ck_assert_msg(strstr(out->text, want) != NULL,
	    "sentence \"%s\" does not contain \"%s\"", out->text, want);
	ck_assert_int_eq(out->fd, -1);
}

/* The citation of [rule test] in broker b's configuration. */
static char *
cite_test_rule(const struct testlib_broker *b)
{
	return testlib_strf("rule test (%s:%d)", b->config_path, RULE_LINE);
}

/* Makes a bridge (up, with mtu) as an administrator would. */
static void
make_bridge(const char *name, unsigned mtu)
{
	ck_assert_int_eq(netinfo_add_link(name, "bridge", NULL), 0);
	ck_assert_int_eq(netinfo_set_link(name, mtu, NULL, true), 0);
}

/* The number of leases root sees: every lease of the broker. */
static size_t
count_leases(const struct testlib_broker *b)
{
	struct tunclient_lease_info *list;
	struct tunclient_conn *conn;
	size_t n;

	ck_assert_int_eq(tunclient_connect(b->socket_path, &conn), 0);
	ck_assert_int_eq(tunclient_list(conn, &list, &n), 0);
	tunclient_lease_info_free(list);
	tunclient_close(conn);
	return n;
}

static void
format_mac(const uint8_t mac[6], char buf[TB_MAC_TEXT_MAX])
{
	tb_mac_format(mac, buf, TB_MAC_TEXT_MAX);
}

START_TEST(tap_with_mac)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char mac[TB_MAC_TEXT_MAX];

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .mac = "02:00:5e:10:00:01", .txqueuelen = 2000 });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	/* TAP devices are named tap%d unless the client says otherwise. */
	ck_assert_str_eq(out.name, "tap0");
	ck_assert_int_eq(out.type, TUNCLIENT_TAP);
	ck_assert_str_eq(out.mac, "02:00:5e:10:00:01");
	ck_assert_uint_eq(out.txqueuelen, 2000);

	ck_assert_int_eq(netinfo_link_by_name("tap0", &link), 0);
	ck_assert_uint_eq(link.ifindex, out.ifindex);
	ck_assert_str_eq(link.kind, "tun");
	ck_assert_int_eq(link.tun_type, IFF_TAP);
	ck_assert(link.has_mac);
	format_mac(link.mac, mac);
	ck_assert_str_eq(mac, "02:00:5e:10:00:01");
	ck_assert_uint_eq(link.txqueuelen, 2000);
	ck_assert_uint_eq(link.mtu, 1500);
	ck_assert_msg(link.flags & IFF_UP, "tap0 is not up");
	ck_assert_msg(link.has_owner && link.owner == TESTLIB_UID,
	    "owner is not the client");

	close(out.fd);
	ck_assert(netinfo_link_gone_within("tap0", 2000));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(tap_random_mac)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;
	char mac[TB_MAC_TEXT_MAX];

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .name = "vm%d" });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_str_eq(out.name, "vm0");
	ck_assert_int_eq(netinfo_link_by_name("vm0", &link), 0);
	ck_assert_int_eq(link.tun_type, IFF_TAP);
	ck_assert(link.has_mac);
	/* The kernel's random address: locally administered, unicast. */
	ck_assert_msg((link.mac[0] & 0x02) != 0, "not locally administered");
	ck_assert_msg((link.mac[0] & 0x01) == 0, "multicast");
	/* The reply reports the kernel's address, not a guess. */
	format_mac(link.mac, mac);
	ck_assert_str_eq(out.mac, mac);
	ck_assert_uint_eq(out.txqueuelen, link.txqueuelen);
	ck_assert_uint_eq(out.mtu, link.mtu);
	close(out.fd);
	ck_assert(netinfo_link_gone_within("vm0", 2000));
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(tun_txqueuelen)
{
	struct testlib_broker b;
	struct netinfo_link link;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .txqueuelen = 42 });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_int_eq(out.type, TUNCLIENT_TUN);
	ck_assert_str_eq(out.mac, "");
	ck_assert_uint_eq(out.txqueuelen, 42);
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert_int_eq(link.tun_type, IFF_TUN);
	ck_assert_uint_eq(link.txqueuelen, 42);
	close(out.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	testlib_broker_stop(&b);
}
END_TEST

/* The static route to cidr in routes, or NULL. */
static const struct netinfo_route *
find_route(const struct netinfo_route *routes, size_t n, const char *cidr)
{
	char text[TB_ADDR_TEXT_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		tb_addr_format(&routes[i].dst, true, text, sizeof(text));
		if (routes[i].protocol == RTPROT_STATIC &&
		    strcmp(text, cidr) == 0)
			return &routes[i];
	}
	return NULL;
}

START_TEST(routes_with_metrics)
{
	static const struct route_ask want[] = {
		{ "198.18.4.0/24", 10 },
		{ "0.0.0.0/0", 300 },
		{ "2001:db8:4::/48", 20 },
		{ "::/0", 400 },
		{ "198.18.5.0/24", 0 },
		{ "2001:db8:5::/64", 0 },
	};
	/* The kernel's default priority for each: 0, and 1024 for IPv6. */
	static const unsigned kernel_metric[] = { 10, 300, 20, 400, 0, 1024 };
	struct netinfo_route routes[NETINFO_ROUTES_MAX];
	const struct netinfo_route *r;
	struct testlib_broker b;
	struct outcome out;
	struct ask a = { .tap = false };
	size_t n, i;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP ALLOW_ROUTES);
	a.socket_path = b.socket_path;
	a.addrs[0] = "198.18.0.1/24";
	memcpy(a.routes, want, sizeof(want));
	out = ask_as_nobody(a);
	ck_assert_msg(out.code == 0, "refused: %s", out.text);

	/* The lease lists each route with the metric the kernel gave it. */
	ck_assert_uint_eq(out.nroutes, MAX_ROUTES);
	for (i = 0; i < MAX_ROUTES; i++) {
		ck_assert_str_eq(out.routes[i], want[i].cidr);
		ck_assert_uint_eq(out.metrics[i], kernel_metric[i]);
	}
	ck_assert_int_eq(netinfo_routes(out.ifindex, routes,
	    NETINFO_ROUTES_MAX, &n), 0);
	for (i = 0; i < MAX_ROUTES; i++) {
		r = find_route(routes, n, want[i].cidr);
		ck_assert_msg(r != NULL, "no route to %s through %s",
		    want[i].cidr, out.name);
		ck_assert_uint_eq(r->oif, out.ifindex);
		ck_assert_msg(r->metric == kernel_metric[i],
		    "route %s has metric %u, not %u", want[i].cidr, r->metric,
		    kernel_metric[i]);
	}

	/* The routes go with the device. */
	close(out.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	ck_assert_int_eq(netinfo_routes(0, routes, NETINFO_ROUTES_MAX, &n), 0);
	for (i = 0; i < MAX_ROUTES; i++)
		ck_assert_msg(find_route(routes, n, want[i].cidr) == NULL,
		    "route %s outlived its device", want[i].cidr);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(bridge_mtu_taken_or_given)
{
	struct testlib_broker b;
	struct netinfo_link link, br;
	struct outcome out, given;

	testlib_enter_netns();
	make_bridge("br0", 1400);
	testlib_broker_start(&b, ALLOW_TAP ALLOW_BRIDGES);

	/* Without an MTU the TAP takes the bridge's. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br0" });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_str_eq(out.bridge, "br0");
	ck_assert_uint_eq(out.mtu, 1400);
	ck_assert_int_eq(netinfo_link_by_name("br0", &br), 0);
	ck_assert_int_eq(netinfo_link_by_name(out.name, &link), 0);
	ck_assert_uint_eq(link.master, br.ifindex);
	ck_assert_uint_eq(link.mtu, 1400);
	ck_assert_msg(link.flags & IFF_UP, "the port is not up");

	/* With one, the TAP keeps it, and the bridge keeps its own. */
	given = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br0", .mtu = 1300 });
	ck_assert_msg(given.code == 0, "refused: %s", given.text);
	ck_assert_str_eq(given.bridge, "br0");
	ck_assert_uint_eq(given.mtu, 1300);
	ck_assert_int_eq(netinfo_link_by_name(given.name, &link), 0);
	ck_assert_uint_eq(link.master, br.ifindex);
	ck_assert_uint_eq(link.mtu, 1300);
	ck_assert_int_eq(netinfo_link_by_name("br0", &br), 0);
	ck_assert_uint_eq(br.mtu, 1400);

	close(out.fd);
	close(given.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	ck_assert(netinfo_link_gone_within(given.name, 2000));
	/* The bridge is the administrator's: it stays. */
	ck_assert_int_eq(netinfo_link_by_name("br0", &br), 0);
	testlib_broker_stop(&b);
}
END_TEST

/* An experimental EtherType (IEEE 802 local experimental 1). */
#define TEST_ETHERTYPE	0x88b5

/* Writes an Ethernet frame of TEST_ETHERTYPE carrying payload into buf. */
static size_t
ether_frame(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
    const char *payload)
{
	size_t len = strlen(payload);

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = TEST_ETHERTYPE >> 8;
	buf[13] = TEST_ETHERTYPE & 0xff;
	memcpy(buf + 14, payload, len);
	/* Ethernet's minimum: 60 bytes before the FCS. */
	if (14 + len < 60) {
		memset(buf + 14 + len, 0, 60 - 14 - len);
		return 60;
	}
	return 14 + len;
}

/* Whether frame (n bytes) is ours: TEST_ETHERTYPE, src and payload. */
static bool
is_test_frame(const uint8_t *frame, ssize_t n, const uint8_t src[6],
    const char *payload)
{
	size_t len = strlen(payload);

	return n >= (ssize_t)(14 + len) && memcmp(frame + 6, src, 6) == 0 &&
	    frame[12] == (TEST_ETHERTYPE >> 8) &&
	    frame[13] == (TEST_ETHERTYPE & 0xff) &&
	    memcmp(frame + 14, payload, len) == 0;
}

/*
 * Sends frame (len bytes) with send_fd (write() on a TAP fd, or send() on a
 * packet socket) until recv_fd sees it, skipping other traffic (IPv6
 * chatter); false after three seconds.  Resending covers a port the
 * bridge has not put in forwarding state yet.
 */
static bool
frame_crosses(int send_fd, const uint8_t *frame, size_t len, int recv_fd,
    const uint8_t src[6], const char *payload)
{
	struct pollfd pfd = { .fd = recv_fd, .events = POLLIN };
	uint8_t got[2048];
	int tries;
	ssize_t n;

	for (tries = 0; tries < 30; tries++) {
		ck_assert_int_eq(write(send_fd, frame, len), (ssize_t)len);
		while (poll(&pfd, 1, 100) == 1) {
			n = read(recv_fd, got, sizeof(got));
			ck_assert_int_gt(n, 0);
			if (is_test_frame(got, n, src, payload))
				return true;
		}
	}
	return false;
}

/* A packet socket that sends and receives every frame of the link ifname. */
static int
packet_socket(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_ALL) };
	int fd;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	ck_assert_int_gt(sll.sll_ifindex, 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

START_TEST(bridge_passes_frames)
{
	static const uint8_t vm_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0xaa };
	static const uint8_t far_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0xbb };
	static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff };
	static const char out_payload[] = "from the VM to the bridge";
	static const char in_payload[] = "from the bridge to the VM";
	struct testlib_broker b;
	struct outcome out;
	uint8_t frame[128];
	size_t len;
	int far;

	testlib_enter_netns();
	make_bridge("br0", 1500);
	/* Another port: ve0 on the bridge, its peer ve1 the far end. */
	ck_assert_int_eq(netinfo_add_link("ve0", "veth", "ve1"), 0);
	ck_assert_int_eq(netinfo_set_link("ve0", 0, "br0", true), 0);
	ck_assert_int_eq(netinfo_set_link("ve1", 0, NULL, true), 0);
	testlib_broker_start(&b, ALLOW_TAP ALLOW_BRIDGES);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br0" });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	far = packet_socket("ve1");

	/* A broadcast the VM writes into its TAP leaves by the other port. */
	len = ether_frame(frame, broadcast, vm_mac, out_payload);
	ck_assert_msg(frame_crosses(out.fd, frame, len, far, vm_mac,
	    out_payload), "the frame written into the TAP did not reach ve1");

	/* A frame to the VM's (learnt) address comes out of the TAP's fd. */
	len = ether_frame(frame, vm_mac, far_mac, in_payload);
	ck_assert_msg(frame_crosses(far, frame, len, out.fd, far_mac,
	    in_payload), "the frame sent on ve1 did not come out of the TAP");

	close(far);
	close(out.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	testlib_broker_stop(&b);
}
END_TEST

/*
 * Sends req over a raw connection, as a client without libtunclient's
 * checks would, and returns the broker's refusal.
 */
static struct tb_error
raw_refusal(const struct testlib_broker *b, const struct tb_create_request *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint8_t buf[TB_MSG_MAX_SIZE];
	int fds[TB_MSG_MAX_FDS];
	struct tb_error err = { 0 }, got = { 0 };
	struct tb_builder msg;
	struct tb_msg parsed;
	size_t nfds;
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", b->socket_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(tb_encode_create(&msg, 77, req), 0);
	ck_assert_int_eq(tb_send(fd, msg.buf, msg.len, NULL, 0), 0);
	tb_builder_release(&msg);
	ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN },
	    1, 5000), 1);
	n = tb_recv(fd, buf, sizeof(buf), fds, &nfds, &err);
	ck_assert_msg(n > 0, "no reply: %s", err.text);
	ck_assert_int_eq(nfds, 0);
	ck_assert_int_eq(tb_msg_parse(&parsed, buf, (size_t)n, nfds, &err), 0);
	ck_assert_int_eq(parsed.hdr.type, TB_MSG_ERROR);
	ck_assert_uint_eq(parsed.hdr.seq, 77);
	tb_decode_error(&parsed, &got);
	close(fd);
	return got;
}

static void
assert_raw_refused(const struct testlib_broker *b,
    const struct tb_create_request *req, int code, const char *want)
{
	struct tb_error err = raw_refusal(b, req);

	ck_assert_msg(err.code == code, "expected %s, got %d: %s",
	    strerror(-code), err.code, err.text);
	ck_assert_msg(strstr(err.text, want) != NULL,
	    "sentence \"%s\" does not contain \"%s\"", err.text, want);
}

START_TEST(refusals_name_the_value)
{
	struct testlib_broker b;
	struct outcome out;
	char *cite, *want;

	testlib_enter_netns();
	make_bridge("br0", 1500);
	make_bridge("br1", 1500);
	ck_assert_int_eq(netinfo_add_link("notbr0", "veth", "notbr1"), 0);
	testlib_broker_start(&b, ALLOW_TAP ALLOW_BRIDGES
	    "routes = 198.18.4.0/24, 2001:db8:4::/48\n");
	cite = cite_test_rule(&b);

	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .mac = "02:00:5e:10:00:01" });
	assert_refused(&out, -EINVAL, "mac 02:00:5e:10:00:01: only a TAP "
	    "device has an Ethernet address");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .bridge = "br0" });
	assert_refused(&out, -EINVAL, "bridge br0: only a TAP device can join "
	    "a bridge");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br1" });
	want = testlib_strf("bridge br1 is not one of the bridges %s allows",
	    cite);
	assert_refused(&out, -EPERM, want);
	free(want);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "notbr0" });
	assert_refused(&out, -EINVAL, "bridge notbr0 is not a bridge (its kind "
	    "is \"veth\")");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "nobr0" });
	assert_refused(&out, -ENODEV, "bridge nobr0 does not exist");

	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br%d" });
	assert_refused(&out, -EINVAL, "bridge br%d: a bridge is an existing "
	    "interface, not a template");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br 0" });
	assert_refused(&out, -EINVAL, "bridge: name \"br 0\" has a "
	    "character other");

	/* Routes: within a prefix the rule names, not merely overlapping. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .routes = { { "198.18.5.0/24", 0 } } });
	want = testlib_strf("route 198.18.5.0/24 is outside the route "
	    "prefixes %s allows", cite);
	assert_refused(&out, -EPERM, want);
	free(want);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .routes = { { "198.18.4.128/25", 0 }, { "198.18.0.0/16", 0 } } });
	assert_refused(&out, -EPERM, "route 198.18.0.0/16 is outside");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .routes = { { "::/0", 5 } } });
	assert_refused(&out, -EPERM, "route ::/0 is outside");

	/* What the library refuses, the broker refuses too. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .mac = "03:00:5e:10:00:01" });
	ck_assert(out.builder);
	assert_refused(&out, -EINVAL, "mac 03:00:5e:10:00:01 is a multicast "
	    "address");
	assert_raw_refused(&b, &(struct tb_create_request){
	    .device_type = TB_DEVICE_TAP, .has_mac = true,
	    .mac = { 0x03, 0x00, 0x5e, 0x10, 0x00, 0x01 } }, -EINVAL,
	    "mac 03:00:5e:10:00:01 is a multicast address");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .mac = "00:00:00:00:00:00" });
	ck_assert(out.builder);
	assert_refused(&out, -EINVAL, "mac 00:00:00:00:00:00 is all zero");
	assert_raw_refused(&b, &(struct tb_create_request){
	    .device_type = TB_DEVICE_TAP, .has_mac = true }, -EINVAL,
	    "mac 00:00:00:00:00:00 is all zero");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .routes = { { "198.18.4.1/24", 0 } } });
	ck_assert(out.builder);
	assert_refused(&out, -EINVAL, "route 198.18.4.1/24 has host bits set");
	{
		struct tb_create_request req = { .device_type = TB_DEVICE_TUN,
		    .nroutes = 1 };

		ck_assert_int_eq(tb_addr_parse("198.18.4.1/24", false,
		    &req.routes[0].dst, NULL), 0);
		assert_raw_refused(&b, &req, -EINVAL, "route 198.18.4.1/24 "
		    "has host bits set (the network is 198.18.4.0/24)");
	}
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .txqueuelen = 65537 });
	ck_assert(out.builder);
	assert_refused(&out, -EINVAL, "txqueuelen 65537 is outside 1 to 65536");
	assert_raw_refused(&b, &(struct tb_create_request){
	    .device_type = TB_DEVICE_TUN, .txqueuelen = 65537 }, -EINVAL,
	    "txqueuelen 65537 is over 65536");

	/* Nothing of any of them is left. */
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	ck_assert_uint_eq(count_leases(&b), 0);
	free(cite);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(tap_needs_device_type)
{
	struct testlib_broker b;
	struct outcome out;
	char *want, *cite;

	testlib_enter_netns();
	/* A rule without device-types allows TUN only. */
	testlib_broker_start(&b, "users = 65534\n");
	cite = cite_test_rule(&b);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true });
	want = testlib_strf("device-type tap is not one %s allows", cite);
	assert_refused(&out, -EPERM, want);
	free(want);
	free(cite);
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	testlib_broker_stop(&b);
}
END_TEST

/*
 * The default name a rule's names patterns judge is the one the device
 * would get: tap%d for a TAP.
 */
START_TEST(tap_default_name_judged)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP "names = tap*\n");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_str_eq(out.name, "tap0");
	close(out.fd);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path });
	assert_refused(&out, -EPERM, "name tun%d (the default) matches no "
	    "names pattern");
	testlib_broker_stop(&b);
}
END_TEST

/* A bridge's MTU is judged by the rule's mtu range like a requested one. */
START_TEST(bridge_mtu_judged)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	make_bridge("br0", 9000);
	testlib_broker_start(&b, ALLOW_TAP ALLOW_BRIDGES "mtu = 576-1500\n");
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br0" });
	assert_refused(&out, -EPERM, "with the mtu of bridge br0 (9000): "
	    "mtu 9000 is outside the range 576-1500");
	/* Given within the range, it is granted. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .bridge = "br0", .mtu = 1500 });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(out.mtu, 1500);
	close(out.fd);
	ck_assert(netinfo_link_gone_within(out.name, 2000));
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(duplicate_route_leaves_nothing)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP ALLOW_ROUTES);
	/* The second route is the first again: the kernel says it exists. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .name = "dup0", .routes = { { "198.18.4.0/24", 10 },
	    { "198.18.4.0/24", 10 } } });
	assert_refused(&out, -EEXIST, "adding route 198.18.4.0/24 metric 10");
	ck_assert_ptr_nonnull(strstr(out.text, strerror(EEXIST)));
	/* The device the kernel had made is gone, and so is its lease. */
	ck_assert(netinfo_link_gone_within("dup0", 2000));
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	ck_assert_uint_eq(count_leases(&b), 0);
	/* The name is free again. */
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .name = "dup0" });
	ck_assert_msg(out.code == 0, "refused: %s", out.text);
	ck_assert_uint_eq(count_leases(&b), 1);
	close(out.fd);
	testlib_broker_stop(&b);
}
END_TEST

/* A TAP's MTU tops out below a TUN's: the kernel refuses, nothing stays. */
START_TEST(tap_mtu_over_kernel_max_leaves_nothing)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	testlib_broker_start(&b, ALLOW_TAP);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .tap = true, .name = "big0", .mtu = 65535 });
	/* The step and value, and the kernel's own reason. */
	assert_refused(&out, -EINVAL, "(mtu 65535)");
	ck_assert_msg(strstr(out.text, "(kernel: mtu greater than device "
	    "maximum)") != NULL, "no kernel reason in \"%s\"", out.text);
	ck_assert(netinfo_link_gone_within("big0", 2000));
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	ck_assert_uint_eq(count_leases(&b), 0);
	testlib_broker_stop(&b);
}
END_TEST

START_TEST(ipv6_disabled_route_leaves_nothing)
{
	struct testlib_broker b;
	struct outcome out;

	testlib_enter_netns();
	/* New links of this namespace get no IPv6. */
	testlib_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6",
	    "1\n");
	testlib_broker_start(&b, ALLOW_TAP ALLOW_ROUTES);
	out = ask_as_nobody((struct ask){ .socket_path = b.socket_path,
	    .name = "nosix0", .addrs = { "198.18.0.1/24" },
	    .routes = { { "198.18.4.0/24", 0 }, { "2001:db8:4::/48", 0 } } });
	/* The kernel's own reason, passed on from its extended ack. */
	assert_refused(&out, -EACCES, "adding route 2001:db8:4::/48 metric 0");
	ck_assert_msg(strstr(out.text, "(kernel: IPv6 is disabled") != NULL,
	    "no kernel reason in \"%s\"", out.text);
	ck_assert_int_eq(out.fd, -1);
	ck_assert(netinfo_link_gone_within("nosix0", 2000));
	ck_assert_int_eq(testlib_count_tun_links(), 0);
	ck_assert_uint_eq(count_leases(&b), 0);
	testlib_broker_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("options");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tap_with_mac);
	tcase_add_test(tc, tap_random_mac);
	tcase_add_test(tc, tun_txqueuelen);
	tcase_add_test(tc, routes_with_metrics);
	tcase_add_test(tc, bridge_mtu_taken_or_given);
	tcase_add_test(tc, bridge_passes_frames);
	tcase_add_test(tc, refusals_name_the_value);
	tcase_add_test(tc, tap_needs_device_type);
	tcase_add_test(tc, tap_default_name_judged);
	tcase_add_test(tc, bridge_mtu_judged);
	tcase_add_test(tc, duplicate_route_leaves_nothing);
	tcase_add_test(tc, ipv6_disabled_route_leaves_nothing);
	tcase_add_test(tc, tap_mtu_over_kernel_max_leaves_nothing);
	suite_add_tcase(s, tc);
	return testlib_run(s, true);
}
