/*
 * libtunclient without a real broker: the request builder's checks, and
 * how the library copes with a broker that answers wrongly.  A scripted
 * peer stands in for the broker only where the real one cannot misbehave.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "fdpass.h"
#include "testlib.h"
#include "tunclient.h"

START_TEST(builder_checks_each_value)
{
	struct tunclient_request *req;
	char addr[32];
	int i;

	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_name(req, ""), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_name(req,
	    "a-name-too-long-x"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "a-name-too-long-x"));
	ck_assert_int_eq(tunclient_request_set_name(req, "vpn%d"), 0);
	ck_assert_str_eq(tunclient_request_error(req), "");

	ck_assert_int_eq(tunclient_request_add_address(req, "198.18.0.1"),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "no prefix length"));
	ck_assert_int_eq(tunclient_request_add_address(req, "198.18.0.1/33"),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "198.18.0.1/33"));
	ck_assert_int_eq(tunclient_request_add_address(req, "tun0/24"),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req), "tun0/24"));
	ck_assert_int_eq(tunclient_request_add_address(req, "2001:db8::1/129"),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_add_address(req, "2001:db8::1/64"),
	    0);

	ck_assert_int_eq(tunclient_request_add_address_bytes(req, AF_UNIX,
	    "\xc6\x12\0\1", 24), -EINVAL);
	ck_assert_int_eq(tunclient_request_add_address_bytes(req, AF_INET,
	    "\xc6\x12\0\1", 33), -EINVAL);
	ck_assert_int_eq(tunclient_request_add_address_bytes(req, AF_INET,
	    "\xc6\x12\0\1", 24), 0);
	/* 2 so far; 64 is the limit, the 65th is refused. */
	for (i = 2; i < 64; i++) {
		snprintf(addr, sizeof(addr), "198.18.1.%d/32", i);
		ck_assert_int_eq(tunclient_request_add_address(req, addr), 0);
	}
	ck_assert_int_eq(tunclient_request_add_address(req, "198.18.2.1/32"),
	    -E2BIG);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "198.18.2.1/32"));

	ck_assert_int_eq(tunclient_request_set_peer(req, "peer"), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_peer(req, "198.18.0.2"), 0);
	ck_assert_int_eq(tunclient_request_set_mtu(req, 67), -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req), "67"));
	ck_assert_int_eq(tunclient_request_set_mtu(req, 65536), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_mtu(req, 68), 0);
	ck_assert_int_eq(tunclient_request_set_type(req, 3), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_type(req, TUNCLIENT_TUN), 0);
	tunclient_request_free(req);
	tunclient_request_free(NULL);
}
END_TEST

/* Queues, header size and offloads: each value checked, with its sentence. */
START_TEST(builder_checks_queues_vnet_hdr_offload)
{
	struct tunclient_request *req;

	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_queues(req, 0), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "queues 0 is outside 1 to 16");
	ck_assert_int_eq(tunclient_request_set_queues(req, 17), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "queues 17 is outside 1 to 16");
	ck_assert_int_eq(tunclient_request_set_queues(req, 16), 0);
	ck_assert_int_eq(tunclient_request_set_queues(req, 1), 0);

	ck_assert_int_eq(tunclient_request_set_vnet_hdr(req, 11), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "vnet-hdr size 11 is neither 10 nor 12");
	ck_assert_int_eq(tunclient_request_set_vnet_hdr(req, 12), 0);
	ck_assert_int_eq(tunclient_request_set_vnet_hdr(req, 10), 0);
	ck_assert_int_eq(tunclient_request_set_vnet_hdr(req, 0), 0);

	ck_assert_int_eq(tunclient_request_set_offload(req,
	    TUNCLIENT_OFFLOAD_TSO4), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req), "offload tso4 needs "
	    "csum: the kernel segments only packets whose checksum it may "
	    "leave partial");
	ck_assert_int_eq(tunclient_request_set_offload(req,
	    TUNCLIENT_OFFLOAD_CSUM | TUNCLIENT_OFFLOAD_USO6), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req), "offload csum,uso6: "
	    "the kernel takes uso4 and uso6 only together");
	ck_assert_int_eq(tunclient_request_set_offload(req,
	    TUNCLIENT_OFFLOAD_CSUM | TUNCLIENT_OFFLOAD_TSO_ECN), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req), "offload csum,tso-ecn: "
	    "tso-ecn needs tso4 or tso6");
	ck_assert_int_eq(tunclient_request_set_offload(req, 0x41), -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "offload csum,0x40 has unknown bits 0x40");
	ck_assert_int_eq(tunclient_request_set_offload(req,
	    TUNCLIENT_OFFLOAD_CSUM | TUNCLIENT_OFFLOAD_TSO4 |
	    TUNCLIENT_OFFLOAD_TSO_ECN | TUNCLIENT_OFFLOAD_USO4 |
	    TUNCLIENT_OFFLOAD_USO6), 0);
	ck_assert_str_eq(tunclient_request_error(req), "");
	ck_assert_int_eq(tunclient_request_set_offload(req, 0), 0);
	tunclient_request_free(req);
}
END_TEST

START_TEST(connect_errors)
{
	struct tunclient_conn *conn = (void *)1;
	char longpath[200];

	ck_assert_int_eq(tunclient_connect("/nonexistent/socket", &conn),
	    -ENOENT);
	ck_assert_ptr_null(conn);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(tunclient_connect(longpath, &conn), -ENAMETOOLONG);
	tunclient_close(NULL);
}
END_TEST

/* What the scripted broker answers to the first request it reads. */
enum script {
	ANSWER_WRONG_SEQ,
	ANSWER_ERROR_WITH_FD,
	ANSWER_NOTHING,
	ANSWER_CREATED_NO_FD,
	ANSWER_CREATED_FD_MISMATCH,
	ANSWER_CREATED_TWO_FDS,
	ANSWER_PONG_TO_CREATE,
	ANSWER_ECHO_CREATE,	/* CREATED with the device options asked for */
};

struct scripted_broker {
	char *dir;
	char *path;
	pid_t pid;
};

/*
 * Answers a CREATE with a CREATED that reports the type, MAC, routes,
 * bridge, MTU and transmit queue length it asked for, so a test sees what
 * the library sent.
 */
static void
echo_create(int fd, const struct tb_msg *msg, int devfd)
{
	static struct tb_create_request req;
	static struct tb_created_reply rep;
	struct tb_builder b;

	if (tb_decode_create(msg, &req, NULL) != 0)
		_exit(5);
	snprintf(rep.name, sizeof(rep.name), "tap7");
	rep.ifindex = 7;
	rep.fd_count = 1;
	rep.device_type = req.device_type;
	rep.mtu = req.mtu != 0 ? req.mtu : 1500;
	rep.has_mac = req.has_mac;
	memcpy(rep.mac, req.mac, sizeof(rep.mac));
	rep.nroutes = req.nroutes;
	memcpy(rep.routes, req.routes, sizeof(rep.routes));
	memcpy(rep.bridge, req.bridge, sizeof(rep.bridge));
	rep.txqueuelen = req.txqueuelen;
	if (tb_encode_created(&b, msg->hdr.seq, &rep) != 0 ||
	    tb_send(fd, b.buf, b.len, &devfd, 1) != 0)
		_exit(6);
	tb_builder_release(&b);
}

/* Answers one request on fd as the script says. */
static void
play(int fd, enum script script)
{
	uint8_t buf[TB_MSG_MAX_SIZE];
	struct tb_created_reply rep = { .name = "tun7", .ifindex = 7,
	    .mtu = 1500, .naddrs = 1, .fd_count = 1 };
	struct tb_error e = { .code = -EACCES, .text = "scripted refusal" };
	struct tb_builder b;
	struct tb_msg msg;
	int fds[TB_MSG_MAX_FDS], pipefd[2];
	size_t nfds;
	ssize_t n;

	n = tb_recv(fd, buf, sizeof(buf), fds, &nfds, NULL);
	if (n <= 0 || tb_msg_parse(&msg, buf, (size_t)n, nfds, NULL) != 0)
		_exit(3);
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		_exit(4);
	rep.addrs[0] = (struct tb_addr){ .family = AF_INET, .prefixlen = 24,
	    .addr = { 198, 18, 0, 1 } };
	switch (script) {
	case ANSWER_WRONG_SEQ:
		tb_encode_simple(&b, TB_MSG_PONG, msg.hdr.seq + 1);
		tb_send(fd, b.buf, b.len, NULL, 0);
		break;
	case ANSWER_ERROR_WITH_FD:
		tb_encode_error(&b, msg.hdr.seq, &e);
		tb_send(fd, b.buf, b.len, pipefd, 1);
		break;
	case ANSWER_NOTHING:
		return;
	case ANSWER_CREATED_NO_FD:
		rep.fd_count = 0;
		tb_encode_created(&b, msg.hdr.seq, &rep);
		tb_send(fd, b.buf, b.len, NULL, 0);
		break;
	case ANSWER_CREATED_FD_MISMATCH:
		tb_encode_created(&b, msg.hdr.seq, &rep);
		tb_send(fd, b.buf, b.len, pipefd, 2);
		break;
	case ANSWER_CREATED_TWO_FDS:
		rep.fd_count = 2;
		tb_encode_created(&b, msg.hdr.seq, &rep);
		tb_send(fd, b.buf, b.len, pipefd, 2);
		break;
	case ANSWER_PONG_TO_CREATE:
		tb_encode_simple(&b, TB_MSG_PONG, msg.hdr.seq);
		tb_send(fd, b.buf, b.len, NULL, 0);
		break;
	case ANSWER_ECHO_CREATE:
		echo_create(fd, &msg, pipefd[0]);
		return;
	}
	tb_builder_release(&b);
}

/* Starts a process that listens like a broker and follows script. */
static void
scripted_start(struct scripted_broker *sb, enum script script)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd, fd;
	char c;

	sb->dir = testlib_mkdtemp();
	ck_assert_int_ge(asprintf(&sb->path, "%s/socket", sb->dir), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sb->path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	sb->pid = fork();
	ck_assert_int_ge(sb->pid, 0);
	if (sb->pid == 0) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			_exit(2);
		play(fd, script);
		/* Hold the connection until the client closes it. */
		while (recv(fd, &c, 1, 0) > 0)
			;
		_exit(0);
	}
	close(lfd);
}

static void
scripted_stop(struct scripted_broker *sb)
{
	int status;

	kill(sb->pid, SIGKILL);	/* Check's SIGTERM handler would kill us too */
	ck_assert_int_eq(waitpid(sb->pid, &status, 0), sb->pid);
	testlib_rmtree(sb->dir);
	free(sb->dir);
	free(sb->path);
}

/* The lowest descriptor number free now: the next one the kernel gives. */
static int
next_fd(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

/* Requests a device from a scripted broker; returns the library's answer. */
static int
request_from(enum script script, struct tunclient_lease **lease,
    char *why, size_t size)
{
	struct scripted_broker sb;
	struct tunclient_request *req;
	struct tunclient_conn *conn;
	int r;

	scripted_start(&sb, script);
	ck_assert_int_eq(tunclient_connect(sb.path, &conn), 0);
	ck_assert_int_eq(tunclient_request_new(&req), 0);
	r = tunclient_request(conn, req, lease);
	snprintf(why, size, "%s", tunclient_conn_error(conn));
	tunclient_request_free(req);
	tunclient_close(conn);
	scripted_stop(&sb);
	return r;
}

START_TEST(bad_replies_are_errors_without_leaks)
{
	static const struct {
		enum script script;
		int code;
		const char *words;
	} cases[] = {
		{ ANSWER_WRONG_SEQ, -EPROTO, "sequence number" },
		{ ANSWER_ERROR_WITH_FD, -EBADMSG, "descriptors" },
		{ ANSWER_CREATED_NO_FD, -EPROTO, "no descriptor" },
		{ ANSWER_CREATED_FD_MISMATCH, -EBADMSG, "announces 1" },
		{ ANSWER_PONG_TO_CREATE, -EPROTO, "PONG" },
	};
	struct tunclient_lease *lease;
	char why[TB_ERROR_TEXT_MAX];
	size_t i;
	int first_free = next_fd();

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = request_from(cases[i].script, &lease, why, sizeof(why));

		ck_assert_msg(r == cases[i].code, "case %zu: %d (%s)", i, r,
		    why);
		ck_assert_ptr_null(lease);
		ck_assert_msg(strstr(why, cases[i].words) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].words);
		/* Whatever descriptors came along were closed. */
		ck_assert_int_eq(next_fd(), first_free);
	}
}
END_TEST

START_TEST(builder_checks_device_options)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct scripted_broker sb;
	char text[64], route[64];
	unsigned metric;
	int i;

	ck_assert_int_eq(tunclient_request_new(&req), 0);
	ck_assert_int_eq(tunclient_request_set_type(req, TUNCLIENT_TAP), 0);

	/* MAC: six bytes of text, unicast, not all zero. */
	ck_assert_int_eq(tunclient_request_set_mac(req, "02:00:5e:10:00:01"),
	    0);
	ck_assert_int_eq(tunclient_request_set_mac(req, "02:00:5e:10:00"),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "\"02:00:5e:10:00\" is not six hex bytes"));
	ck_assert_int_eq(tunclient_request_set_mac(req,
	    "02:00:5e:10:00:01:02"), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_mac(req, "02-00-5e-10-00-01"),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_set_mac(req, "g2:00:5e:10:00:01"),
	    -EINVAL);
	/* A refused address leaves the one set before. */
	ck_assert_int_eq(tunclient_request_set_mac(req, "03:00:5e:99:99:99"),
	    -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "mac 03:00:5e:99:99:99 is a multicast address");
	ck_assert_int_eq(tunclient_request_set_mac(req, "00:00:00:00:00:00"),
	    -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "mac 00:00:00:00:00:00 is all zero");

	/* Routes: networks with a prefix length; up to 64. */
	ck_assert_int_eq(tunclient_request_add_route(req, "198.18.4.1/24", 0),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "198.18.4.1/24 has host bits set"));
	ck_assert_int_eq(tunclient_request_add_route(req, "198.18.4.0", 0),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_add_route(req, "198.18.4.0/33", 0),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_add_route(req, "2001:db8::/129", 0),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_add_route(req, "default", 0),
	    -EINVAL);
	ck_assert_int_eq(tunclient_request_add_route(req, "198.18.4.0/24", 10),
	    0);
	ck_assert_int_eq(tunclient_request_add_route(req, "::/0", 4000000000u),
	    0);
	for (i = 2; i < TUNCLIENT_MAX_ROUTES; i++) {
		snprintf(route, sizeof(route), "198.18.%d.0/24", i + 8);
		ck_assert_int_eq(tunclient_request_add_route(req, route, 0), 0);
	}
	ck_assert_int_eq(tunclient_request_add_route(req, "0.0.0.0/0", 0),
	    -E2BIG);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "at most 64 routes"));

	/* Bridge: an interface name. */
	ck_assert_int_eq(tunclient_request_set_bridge(req, ""), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_bridge(req,
	    "a-bridge-too-long"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(tunclient_request_error(req),
	    "a-bridge-too-long"));
	ck_assert_int_eq(tunclient_request_set_bridge(req, "br0"), 0);

	/* Transmit queue length: 1 to 65536. */
	ck_assert_int_eq(tunclient_request_set_txqueuelen(req, 0), -EINVAL);
	ck_assert_int_eq(tunclient_request_set_txqueuelen(req, 65537),
	    -EINVAL);
	ck_assert_str_eq(tunclient_request_error(req),
	    "txqueuelen 65537 is outside 1 to 65536");
	ck_assert_int_eq(tunclient_request_set_txqueuelen(req, 65536), 0);

	/* What goes on the wire is what the successful calls set. */
	scripted_start(&sb, ANSWER_ECHO_CREATE);
	ck_assert_int_eq(tunclient_connect(sb.path, &conn), 0);
	ck_assert_msg(tunclient_request(conn, req, &lease) == 0, "%s",
	    tunclient_conn_error(conn));
	ck_assert_int_eq(tunclient_lease_type(lease), TUNCLIENT_TAP);
	ck_assert_int_eq(tunclient_lease_mac(lease, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "02:00:5e:10:00:01");
	ck_assert_int_eq(tunclient_lease_mac(lease, text, 17), -ENOSPC);
	ck_assert_uint_eq(tunclient_lease_route_count(lease),
	    TUNCLIENT_MAX_ROUTES);
	ck_assert_int_eq(tunclient_lease_route(lease, 0, route, sizeof(route),
	    &metric), 0);
	ck_assert_str_eq(route, "198.18.4.0/24");
	ck_assert_uint_eq(metric, 10);
	ck_assert_int_eq(tunclient_lease_route(lease, 1, route, sizeof(route),
	    NULL), 0);
	ck_assert_str_eq(route, "::/0");
	ck_assert_int_eq(tunclient_lease_route(lease, 1, route, sizeof(route),
	    &metric), 0);
	ck_assert_uint_eq(metric, 4000000000u);
	ck_assert_int_eq(tunclient_lease_route(lease, TUNCLIENT_MAX_ROUTES,
	    route, sizeof(route), &metric), -ERANGE);
	ck_assert_str_eq(tunclient_lease_bridge(lease), "br0");
	ck_assert_uint_eq(tunclient_lease_txqueuelen(lease), 65536);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	scripted_stop(&sb);
	tunclient_request_free(req);
}
END_TEST

START_TEST(tun_lease_has_no_mac_or_bridge)
{
	struct tunclient_request *req;
	struct tunclient_lease *lease;
	struct tunclient_conn *conn;
	struct scripted_broker sb;
	char text[64];

	ck_assert_int_eq(tunclient_request_new(&req), 0);
	scripted_start(&sb, ANSWER_ECHO_CREATE);
	ck_assert_int_eq(tunclient_connect(sb.path, &conn), 0);
	ck_assert_int_eq(tunclient_request(conn, req, &lease), 0);
	ck_assert_int_eq(tunclient_lease_type(lease), TUNCLIENT_TUN);
	ck_assert_int_eq(tunclient_lease_mac(lease, text, sizeof(text)),
	    -ENOENT);
	ck_assert_ptr_null(tunclient_lease_bridge(lease));
	ck_assert_uint_eq(tunclient_lease_route_count(lease), 0);
	ck_assert_uint_eq(tunclient_lease_txqueuelen(lease), 0);
	tunclient_lease_free(lease);
	tunclient_close(conn);
	scripted_stop(&sb);
	tunclient_request_free(req);
}
END_TEST

START_TEST(broker_gone_is_connreset)
{
	struct scripted_broker sb;
	struct tunclient_conn *conn;

	scripted_start(&sb, ANSWER_NOTHING);
	ck_assert_int_eq(tunclient_connect(sb.path, &conn), 0);
	scripted_stop(&sb);	/* the broker goes away without a word */
	ck_assert_int_eq(tunclient_ping(conn), -ECONNRESET);
	ck_assert_ptr_nonnull(strstr(tunclient_conn_error(conn), "closed"));
	tunclient_close(conn);
}
END_TEST

START_TEST(lease_owns_fds_until_taken)
{
	struct tunclient_lease *lease;
	char why[TB_ERROR_TEXT_MAX], text[64];
	int fd0, fd1;

	ck_assert_int_eq(request_from(ANSWER_CREATED_TWO_FDS, &lease, why,
	    sizeof(why)), 0);
	ck_assert_str_eq(tunclient_lease_name(lease), "tun7");
	ck_assert_uint_eq(tunclient_lease_ifindex(lease), 7);
	ck_assert_uint_eq(tunclient_lease_mtu(lease), 1500);
	ck_assert_uint_eq(tunclient_lease_fd_count(lease), 2);
	ck_assert_uint_eq(tunclient_lease_address_count(lease), 1);
	ck_assert_int_eq(tunclient_lease_address(lease, 0, text, sizeof(text)),
	    0);
	ck_assert_str_eq(text, "198.18.0.1/24");
	ck_assert_int_eq(tunclient_lease_address(lease, 0, text, 13), -ENOSPC);
	ck_assert_int_eq(tunclient_lease_address(lease, 1, text, sizeof(text)),
	    -ERANGE);
	ck_assert_int_eq(tunclient_lease_peer(lease, text, sizeof(text)),
	    -ENOENT);

	fd0 = tunclient_lease_fd(lease, 0);
	fd1 = tunclient_lease_fd(lease, 1);
	ck_assert_int_ge(fd0, 0);
	ck_assert_int_ge(fd1, 0);
	ck_assert_int_eq(fcntl(fd0, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(tunclient_lease_fd(lease, 2), -ERANGE);
	ck_assert_int_eq(tunclient_lease_take_fd(lease, 0), fd0);
	ck_assert_int_eq(tunclient_lease_take_fd(lease, 0), -EBADF);
	ck_assert_int_eq(tunclient_lease_fd(lease, 0), -EBADF);
	tunclient_lease_free(lease);
	/* The taken fd is the caller's; the other one went with the lease. */
	ck_assert(testlib_fd_is_open(fd0));
	ck_assert(!testlib_fd_is_open(fd1));
	close(fd0);
}
END_TEST

START_TEST(environment_names_the_socket)
{
	struct scripted_broker sb;
	struct tunclient_conn *conn;

	scripted_start(&sb, ANSWER_WRONG_SEQ);
	ck_assert_int_eq(setenv(TUNCLIENT_SOCKET_ENV, sb.path, 1), 0);
	ck_assert_int_eq(tunclient_connect(NULL, &conn), 0);
	ck_assert_int_eq(tunclient_ping(conn), -EPROTO);
	tunclient_close(conn);
	scripted_stop(&sb);
	ck_assert_int_eq(setenv(TUNCLIENT_SOCKET_ENV, "/nonexistent/sock", 1),
	    0);
	ck_assert_int_eq(tunclient_connect(NULL, &conn), -ENOENT);
	unsetenv(TUNCLIENT_SOCKET_ENV);
	ck_assert_str_eq(tunclient_version(), PACKAGE_VERSION);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("client");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, builder_checks_each_value);
	tcase_add_test(tc, builder_checks_queues_vnet_hdr_offload);
	tcase_add_test(tc, connect_errors);
	tcase_add_test(tc, builder_checks_device_options);
	tcase_add_test(tc, tun_lease_has_no_mac_or_bridge);
	tcase_add_test(tc, bad_replies_are_errors_without_leaks);
	tcase_add_test(tc, broker_gone_is_connreset);
	tcase_add_test(tc, lease_owns_fds_until_taken);
	tcase_add_test(tc, environment_names_the_socket);
	suite_add_tcase(s, tc);
	return testlib_run(s, false);
}
