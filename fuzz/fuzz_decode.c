/*
 * libFuzzer target for the message decoder: the bytes every client and the
 * broker hand each other.
 *
 * Input: the first byte is the number of descriptors the message "came
 * with"; the rest is the datagram.  Every input is parsed twice, with that
 * count and with none.  A message that parses goes through the typed
 * decoders, and whatever they decode is encoded again and must come back
 * equal.  A broken invariant calls abort(), which libFuzzer reports.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A string in a buffer of size bytes ends with its NUL inside it. */
static void
check_string(const char *s, size_t size)
{
	check(memchr(s, '\0', size) != NULL);
}

/* A decoded string is the attribute's, whole: never silently cut. */
static void
check_copied(const char *s, size_t size, const struct tb_msg *msg,
    uint16_t type)
{
	const char *attr = tb_msg_string(msg, type);

	check_string(s, size);
	check(strcmp(s, attr != NULL ? attr : "") == 0);
}

/* What a failed decode must leave behind: a code, a reason, a sentence. */
static void
check_failure(int r, const struct tb_error *err)
{
	check(r < 0 && r >= -4095);
	check(err->code == r);
	check(err->detail > TB_DECODE_OK && err->detail <= TB_DECODE_BAD_VALUE);
	check_string(err->text, sizeof(err->text));
	check(err->text[0] != '\0');
}

static void
check_addr(const struct tb_addr *addr)
{
	char text[TB_ADDR_TEXT_MAX];

	check(tb_addr_validate(addr) == 0);
	tb_addr_format(addr, true, text, sizeof(text));
	check(strcmp(text, "?") != 0);
}

/* What tb_msg_parse() promises about a message it accepted. */
static void
check_parsed(const struct tb_msg *msg, const uint8_t *buf, size_t len)
{
	const struct tb_attr *a;
	struct tb_attr attr;
	unsigned type, n;

	check(msg->header_ok);
	check(msg->hdr.length == len && msg->data == buf && msg->len == len);
	check(strcmp(tb_msg_type_name(msg->hdr.type), "unknown") != 0);
	for (type = 0; type <= TB_ATTR_TYPE_MAX; type++) {
		(void)tb_attr_type_name(type);
		n = 0;
		for (a = NULL; (a = tb_msg_next(msg, type, a)) != NULL; n++) {
			memcpy(&attr, a, sizeof(attr));
			check((const uint8_t *)a >= buf + TB_HEADER_SIZE);
			check((const uint8_t *)a + attr.len <= buf + len);
			check((attr.type & TB_ATTR_TYPE_MASK) == type);
			check(n < msg->count[type]);
		}
		check(n == msg->count[type]);
		check(tb_msg_has(msg, type) == (n > 0));
	}
}

/* Encodes what b holds into a message and parses it back into msg. */
static void
reparse(struct tb_builder *b, int encoded, size_t nfds, struct tb_msg *msg)
{
	struct tb_error err;

	check(encoded == 0);
	memset(&err, 0, sizeof(err));
	if (tb_msg_parse(msg, b->buf, b->len, nfds, &err) != 0) {
		fprintf(stderr, "re-encoded message rejected: %s\n", err.text);
		abort();
	}
	check_parsed(msg, b->buf, b->len);
}

static bool
addrs_equal(const struct tb_addr *a, const struct tb_addr *b, size_t n)
{
	return n == 0 || memcmp(a, b, n * sizeof(*a)) == 0;
}

static void
fuzz_create(const struct tb_msg *msg)
{
	struct tb_create_request req, again;
	struct tb_builder b;
	struct tb_msg msg2;
	struct tb_error err;
	size_t i;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_decode_create(msg, &req, &err);
	if (r != 0) {
		check_failure(r, &err);
		return;
	}
	check_copied(req.name, sizeof(req.name), msg, TB_ATTR_IFNAME);
	check(req.device_type == TB_DEVICE_TUN ||
	    req.device_type == TB_DEVICE_TAP);
	check(req.naddrs == msg->count[TB_ATTR_ADDRESS]);
	check(req.naddrs <= TB_MAX_ADDRESSES);
	for (i = 0; i < req.naddrs; i++)
		check_addr(&req.addrs[i]);
	if (req.has_peer)
		check_addr(&req.peer);

	check(req.nroutes == msg->count[TB_ATTR_ROUTE]);
	check(req.queues <= TB_MAX_QUEUES);
	check((req.offload & ~TB_OFFLOAD_ALL) == 0);
	check(req.has_netns == (msg->nfds == 1));

	reparse(&b, tb_encode_create(&b, msg->hdr.seq, &req), msg->nfds,
	    &msg2);
	memset(&again, 0xa5, sizeof(again));
	r = tb_decode_create(&msg2, &again, &err);
	if (r != 0) {
		fprintf(stderr, "re-encoded CREATE rejected: %s\n", err.text);
		abort();
	}
	check(msg2.hdr.seq == msg->hdr.seq);
	check(again.device_type == req.device_type);
	check(strcmp(again.name, req.name) == 0);
	check(again.naddrs == req.naddrs);
	check(addrs_equal(again.addrs, req.addrs, req.naddrs));
	check(again.has_peer == req.has_peer);
	if (req.has_peer)
		check(addrs_equal(&again.peer, &req.peer, 1));
	check(again.mtu == req.mtu);
	check(again.has_mac == req.has_mac &&
	    (!req.has_mac || memcmp(again.mac, req.mac, TB_MAC_LEN) == 0));
	check(again.nroutes == req.nroutes && (req.nroutes == 0 ||
	    memcmp(again.routes, req.routes,
	    req.nroutes * sizeof(req.routes[0])) == 0));
	check(strcmp(again.bridge, req.bridge) == 0);
	check(again.queues == req.queues && again.vnet_hdr == req.vnet_hdr &&
	    again.offload == req.offload &&
	    again.txqueuelen == req.txqueuelen);
	check(again.has_netns == req.has_netns &&
	    again.auto_inet == req.auto_inet &&
	    again.auto_inet6 == req.auto_inet6);
	tb_builder_release(&b);
}

static void
fuzz_created(const struct tb_msg *msg)
{
	struct tb_created_reply rep, again;
	struct tb_builder b;
	struct tb_msg msg2;
	struct tb_error err;
	size_t i;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_decode_created(msg, &rep, &err);
	if (r != 0) {
		check_failure(r, &err);
		return;
	}
	check_copied(rep.name, sizeof(rep.name), msg, TB_ATTR_IFNAME);
	check(rep.fd_count == msg->nfds && rep.fd_count <= TB_MSG_MAX_FDS);
	/* A multi-queue device comes with one descriptor per queue. */
	check(rep.queues == 0 || rep.queues == rep.fd_count);
	check(rep.naddrs == msg->count[TB_ATTR_ADDRESS]);
	for (i = 0; i < rep.naddrs; i++)
		check_addr(&rep.addrs[i]);
	if (rep.has_peer)
		check_addr(&rep.peer);

	reparse(&b, tb_encode_created(&b, msg->hdr.seq, &rep), rep.fd_count,
	    &msg2);
	memset(&again, 0xa5, sizeof(again));
	r = tb_decode_created(&msg2, &again, &err);
	if (r != 0) {
		fprintf(stderr, "re-encoded CREATED rejected: %s\n", err.text);
		abort();
	}
	check(strcmp(again.name, rep.name) == 0);
	check(again.ifindex == rep.ifindex && again.mtu == rep.mtu);
	check(again.naddrs == rep.naddrs);
	check(addrs_equal(again.addrs, rep.addrs, rep.naddrs));
	check(again.has_peer == rep.has_peer);
	if (rep.has_peer)
		check(addrs_equal(&again.peer, &rep.peer, 1));
	check(again.fd_count == rep.fd_count);
	check(again.device_type == rep.device_type);
	check(again.has_mac == rep.has_mac &&
	    (!rep.has_mac || memcmp(again.mac, rep.mac, TB_MAC_LEN) == 0));
	check(again.nroutes == rep.nroutes && (rep.nroutes == 0 ||
	    memcmp(again.routes, rep.routes,
	    rep.nroutes * sizeof(rep.routes[0])) == 0));
	check(strcmp(again.bridge, rep.bridge) == 0);
	check(again.queues == rep.queues && again.vnet_hdr == rep.vnet_hdr &&
	    again.offload == rep.offload &&
	    again.txqueuelen == rep.txqueuelen);
	check(again.has_netns == rep.has_netns && (!rep.has_netns ||
	    memcmp(&again.netns, &rep.netns, sizeof(rep.netns)) == 0));
	tb_builder_release(&b);
}

static void
fuzz_status_reply(const struct tb_msg *msg)
{
	struct tb_status_reply rep, again;
	struct tb_builder b;
	struct tb_msg msg2;
	struct tb_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_decode_status_reply(msg, &rep, &err);
	if (r != 0) {
		check_failure(r, &err);
		return;
	}
	check_copied(rep.broker_version, sizeof(rep.broker_version), msg,
	    TB_ATTR_BROKER_VERSION);

	reparse(&b, tb_encode_status_reply(&b, msg->hdr.seq, &rep), 0, &msg2);
	memset(&again, 0xa5, sizeof(again));
	check(tb_decode_status_reply(&msg2, &again, &err) == 0);
	check(strcmp(again.broker_version, rep.broker_version) == 0);
	check(again.proto_version == rep.proto_version);
	tb_builder_release(&b);
}

static void
fuzz_error(const struct tb_msg *msg)
{
	struct tb_error out, again;
	struct tb_builder b;
	struct tb_msg msg2;
	int r;

	memset(&out, 0, sizeof(out));
	r = tb_decode_error(msg, &out);
	if (msg->hdr.type != TB_MSG_ERROR) {
		check_failure(r, &out);
		return;
	}
	/* An ERROR always decodes: to the peer's errno or to -EPROTO. */
	check(r == out.code && r < 0 && r >= -4095);
	check_copied(out.text, sizeof(out.text), msg, TB_ATTR_ERROR_TEXT);

	reparse(&b, tb_encode_error(&b, msg->hdr.seq, &out), 0, &msg2);
	memset(&again, 0xa5, sizeof(again));
	check(tb_decode_error(&msg2, &again) == out.code);
	check(again.code == out.code);
	check(strcmp(again.text, out.text) == 0);
	tb_builder_release(&b);
}

static void
fuzz_release(const struct tb_msg *msg)
{
	char name[TB_IFNAME_MAX], again[TB_IFNAME_MAX];
	struct tb_error err;
	struct tb_builder b;
	struct tb_msg msg2;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_decode_release(msg, name, &err);
	if (msg->hdr.type != TB_MSG_RELEASE &&
	    msg->hdr.type != TB_MSG_RELEASED) {
		check_failure(r, &err);
		return;
	}
	if (r != 0)
		return;
	check(name[0] != '\0' && strlen(name) < TB_IFNAME_MAX);
	reparse(&b, tb_encode_release(&b, msg->hdr.type, msg->hdr.seq, name),
	    0, &msg2);
	check(tb_decode_release(&msg2, again, &err) == 0);
	check(strcmp(again, name) == 0);
	tb_builder_release(&b);
}

static void
fuzz_leases(const struct tb_msg *msg)
{
	struct tb_lease leases[TB_MAX_LEASES], again[TB_MAX_LEASES];
	struct tb_error err;
	struct tb_builder b;
	struct tb_msg msg2;
	size_t n, n2, i;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_decode_leases(msg, leases, TB_MAX_LEASES, &n, &err);
	if (msg->hdr.type != TB_MSG_LEASES) {
		check_failure(r, &err);
		return;
	}
	check(r == 0 && n == msg->count[TB_ATTR_LEASE]);
	for (i = 0; i < n; i++)
		check(leases[i].name[0] != '\0' &&
		    memchr(leases[i].name, '\0', TB_IFNAME_MAX) != NULL);
	reparse(&b, tb_encode_leases(&b, msg->hdr.seq, leases, n, tb_msg_u32(msg, TB_ATTR_CURSOR)), 0, &msg2);
	check(tb_decode_leases(&msg2, again, TB_MAX_LEASES, &n2, &err) == 0);
	check(n2 == n);
	for (i = 0; i < n; i++)
		check(again[i].ifindex == leases[i].ifindex &&
		    again[i].uid == leases[i].uid &&
		    strcmp(again[i].name, leases[i].name) == 0);
	tb_builder_release(&b);
}

/* Runs every typed decoder; those for other types must refuse cleanly. */
static void
fuzz_typed(const struct tb_msg *msg)
{
	fuzz_create(msg);
	fuzz_created(msg);
	fuzz_status_reply(msg);
	fuzz_error(msg);
	fuzz_release(msg);
	fuzz_leases(msg);
}

static void
fuzz_parse(const uint8_t *buf, size_t len, size_t nfds)
{
	struct tb_msg msg;
	struct tb_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = tb_msg_parse(&msg, buf, len, nfds, &err);
	if (r != 0) {
		check_failure(r, &err);
		check(msg.header_ok == (len >= TB_HEADER_SIZE &&
		    len <= TB_MSG_MAX_SIZE));
		return;
	}
	check(err.code == 0);
	check_parsed(&msg, buf, len);
	fuzz_typed(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size == 0) {
		fuzz_parse(data, 0, 0);
		return 0;
	}
	/*
	 * An exactly sized copy, so that ASan sees any read past the end, and
	 * aligned like the buffer tb_recv() fills.
	 */
	copy = malloc(size > 1 ? size - 1 : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	fuzz_parse(copy, size - 1, data[0]);
	fuzz_parse(copy, size - 1, 0);
	free(copy);
	return 0;
}
