/* Connections to the broker and blocking request/reply exchanges. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass.h"
#include "internal.h"

const char *
tunclient_version(void)
{
	return PACKAGE_VERSION;
}

/* The socket path to use when the caller gives none. */
static const char *
default_socket_path(void)
{
	const char *env = getenv(TUNCLIENT_SOCKET_ENV);

	return env != NULL && env[0] != '\0' ? env : TUNCLIENT_DEFAULT_SOCKET;
}

int
client_socket_connect(const char *path, int flags, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	*out = -1;
	if (path == NULL)
		path = default_socket_path();
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags,
	    0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

int
tunclient_connect(const char *path, struct tunclient_conn **out)
{
	struct tunclient_conn *conn;
	int r;

	*out = NULL;
	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return -ENOMEM;
	conn->next_seq = 1;
	conn->sock = -1;
	if ((conn->buf = malloc(TB_MSG_MAX_SIZE)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = client_socket_connect(path, 0, &conn->sock)) != 0)
		goto fail;
	*out = conn;
	return 0;
fail:
	tunclient_close(conn);
	return r;
}

void
tunclient_close(struct tunclient_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->sock >= 0)
		close(conn->sock);
	free(conn->buf);
	free(conn);
}

const char *
tunclient_conn_error(const struct tunclient_conn *conn)
{
	return conn->err.text;
}

int
client_reply_verdict(const struct tb_msg *reply, uint8_t want,
    struct tb_error *err)
{
	if (reply->hdr.type == TB_MSG_ERROR)
		return tb_decode_error(reply, err);
	if (reply->hdr.type != want)
		return tb_error_set(err, -EPROTO,
		    "the broker answered %s to a request that expects %s",
		    tb_msg_type_name(reply->hdr.type), tb_msg_type_name(want));
	return 0;
}

/*
 * The broker has closed the connection.  It may have said why first (an
 * ERROR with sequence number 0, such as too many connections): that reason
 * is still readable, and a closed peer never makes the read wait.  When
 * the broker closed with our request unread, the kernel reports
 * ECONNRESET once before the queued reason.
 */
static int
peer_closed(struct tunclient_conn *conn)
{
	int fds[TB_MSG_MAX_FDS], r, tries = 0;
	struct tb_msg msg;
	size_t nfds;
	ssize_t n;

	do {
		n = tb_recv(conn->sock, conn->buf, TB_MSG_MAX_SIZE, fds, &nfds,
		    NULL);
	} while (n == -ECONNRESET && ++tries < 2);
	tb_close_fds(fds, nfds);
	if (n > 0 && tb_msg_parse(&msg, conn->buf, (size_t)n, 0, NULL) == 0 &&
	    client_refused_connection(&msg, &conn->err, &r))
		return r;
	return tb_error_set(&conn->err, -ECONNRESET,
	    "the broker closed the connection");
}

/*
 * Sends the message in b (releasing it) and waits for the reply, which must
 * echo its sequence number and be either an ERROR or of type want.  On
 * success reply points into conn->buf and fds holds the descriptors that
 * came with it, now the caller's.  An ERROR reply becomes its errno, with
 * its sentence in conn->err.
 */
static int
exchange_with(struct tunclient_conn *conn, struct tb_builder *b,
    const int *send_fds, size_t nsend, uint8_t want, struct tb_msg *reply,
    int *fds, size_t *nfds)
{
	uint32_t seq = conn->next_seq++;
	ssize_t n;
	int r;

	*nfds = 0;
	memcpy(b->buf + offsetof(struct tb_header, seq), &seq, sizeof(seq));
	r = tb_send(conn->sock, b->buf, b->len, send_fds, nsend);
	tb_builder_release(b);
	if (r == -EPIPE || r == -ECONNRESET)
		return peer_closed(conn);
	if (r != 0)
		return tb_error_set(&conn->err, r, "sending to the broker: %s",
		    strerror(-r));

	n = tb_recv(conn->sock, conn->buf, TB_MSG_MAX_SIZE, fds, nfds,
	    &conn->err);
	if (n == 0 || n == -ECONNRESET)
		return peer_closed(conn);
	if (n < 0)
		return (int)n;
	r = tb_msg_parse(reply, conn->buf, (size_t)n, *nfds, &conn->err);
	if (r == 0 && client_refused_connection(reply, &conn->err, &r))
		;	/* the broker turned the connection away: r says why */
	else if (r == 0 && reply->hdr.seq != seq)
		r = tb_error_set(&conn->err, -EPROTO,
		    "reply has sequence number %u, expected %u",
		    reply->hdr.seq, seq);
	else if (r == 0)
		r = client_reply_verdict(reply, want, &conn->err);
	if (r != 0) {
		tb_close_fds(fds, *nfds);
		*nfds = 0;
	}
	return r;
}

/* exchange_with() for the requests that send no descriptor. */
static int
exchange(struct tunclient_conn *conn, struct tb_builder *b, uint8_t want,
    struct tb_msg *reply, int *fds, size_t *nfds)
{
	return exchange_with(conn, b, NULL, 0, want, reply, fds, nfds);
}

/*
 * Whether reply is the ERROR with sequence number 0 that the broker sends
 * about the connection itself (too many connections, say) before closing
 * it; requests never use 0.  If so, *code and err hold its errno and text.
 */
bool
client_refused_connection(const struct tb_msg *reply, struct tb_error *err,
    int *code)
{
	if (reply->hdr.seq != 0 || reply->hdr.type != TB_MSG_ERROR)
		return false;
	*code = tb_decode_error(reply, err);
	return true;
}

/* Starts a call on conn: clears its error, reports a failed encode. */
static int
begin(struct tunclient_conn *conn, int encoded)
{
	tb_error_clear(&conn->err);
	if (encoded != 0)
		return tb_error_set(&conn->err, encoded,
		    "encoding the request: %s", strerror(-encoded));
	return 0;
}

int
tunclient_ping(struct tunclient_conn *conn)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_msg reply;
	size_t nfds;
	int r;

	if ((r = begin(conn, tb_encode_simple(&b, TB_MSG_PING, 0))) != 0)
		return r;
	return exchange(conn, &b, TB_MSG_PONG, &reply, fds, &nfds);
}

int
tunclient_status(struct tunclient_conn *conn, struct tunclient_status *status)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_status_reply rep;
	struct tb_builder b;
	struct tb_msg reply;
	size_t nfds;
	int r;

	if ((r = begin(conn, tb_encode_simple(&b, TB_MSG_STATUS, 0))) != 0)
		return r;
	if ((r = exchange(conn, &b, TB_MSG_STATUS_REPLY, &reply, fds,
	    &nfds)) != 0)
		return r;
	if ((r = tb_decode_status_reply(&reply, &rep, &conn->err)) != 0)
		return r;
	memset(status, 0, sizeof(*status));
	memcpy(status->broker_version, rep.broker_version,
	    sizeof(status->broker_version));
	status->broker_version[sizeof(status->broker_version) - 1] = '\0';
	status->protocol_version = rep.proto_version;
	return 0;
}

/* Turns a LEASES reply into the caller's array. */
static int
client_leases_from_reply(const struct tb_msg *reply, struct tb_error *err,
    struct tunclient_lease_info **out, size_t *n)
{
	struct tunclient_lease_info *list;
	struct tb_lease *wire;
	size_t count = reply->count[TB_ATTR_LEASE], i, got;
	int r;

	if (count == 0)
		return 0;
	if ((wire = calloc(count, sizeof(*wire))) == NULL ||
	    (list = calloc(count, sizeof(*list))) == NULL) {
		free(wire);
		return tb_error_set(err, -ENOMEM, "listing leases: %s",
		    strerror(ENOMEM));
	}
	if ((r = tb_decode_leases(reply, wire, count, &got, err)) != 0) {
		free(wire);
		free(list);
		return r;
	}
	for (i = 0; i < got; i++) {
		memcpy(list[i].name, wire[i].name, sizeof(list[i].name));
		list[i].name[sizeof(list[i].name) - 1] = '\0';
		list[i].ifindex = wire[i].ifindex;
		list[i].uid = (uid_t)wire[i].uid;
	}
	free(wire);
	*out = list;
	*n = got;
	return 0;
}

int
tunclient_list(struct tunclient_conn *conn,
    struct tunclient_lease_info **out, size_t *n)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_msg reply;
	size_t nfds;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = begin(conn, tb_encode_simple(&b, TB_MSG_LIST, 0))) != 0)
		return r;
	if ((r = exchange(conn, &b, TB_MSG_LEASES, &reply, fds, &nfds)) != 0)
		return r;
	return client_leases_from_reply(&reply, &conn->err, out, n);
}

void
tunclient_lease_info_free(struct tunclient_lease_info *list)
{
	free(list);
}

int
tunclient_release(struct tunclient_conn *conn, const char *name)
{
	char released[TB_IFNAME_MAX];
	int fds[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_msg reply;
	size_t nfds;
	int r;

	tb_error_clear(&conn->err);
	if (name == NULL || name[0] == '\0' || strlen(name) >= TB_IFNAME_MAX)
		return tb_error_set(&conn->err, -EINVAL,
		    "release: \"%s\" is not an interface name",
		    name != NULL ? name : "(null)");
	if ((r = begin(conn, tb_encode_release(&b, TB_MSG_RELEASE, 0,
	    name))) != 0)
		return r;
	if ((r = exchange(conn, &b, TB_MSG_RELEASED, &reply, fds,
	    &nfds)) != 0)
		return r;
	return tb_decode_release(&reply, released, &conn->err);
}

int
tunclient_request(struct tunclient_conn *conn,
    const struct tunclient_request *req, struct tunclient_lease **out)
{
	int fds[TB_MSG_MAX_FDS];
	struct tb_builder b;
	struct tb_msg reply;
	size_t nfds;
	int r;

	*out = NULL;
	if ((r = begin(conn, tb_encode_create(&b, 0, &req->spec))) != 0)
		return r;
	r = exchange_with(conn, &b, &req->netns_fd, req->netns_fd != -1,
	    TB_MSG_CREATED, &reply, fds, &nfds);
	if (r != 0)
		return r;
	return client_lease_from_created(&reply, fds, nfds, &conn->err, out);
}

int
client_lease_from_created(const struct tb_msg *reply, int *fds, size_t nfds,
    struct tb_error *err, struct tunclient_lease **out)
{
	struct tb_created_reply rep;
	int r;

	*out = NULL;
	if ((r = tb_decode_created(reply, &rep, err)) != 0) {
		tb_close_fds(fds, nfds);
		return r;
	}
	if (nfds == 0) {
		return tb_error_set(err, -EPROTO,
		    "the broker created %s but sent no descriptor", rep.name);
	}
	if ((r = lease_new(&rep, fds, nfds, out)) != 0)
		return tb_error_set(err, r, "keeping the lease for %s: %s",
		    rep.name, strerror(-r));
	return 0;
}
