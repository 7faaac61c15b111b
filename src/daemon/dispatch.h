/*
 * Turning one request into one reply: decode, check the policy, create and
 * configure the device, and describe the result.
 */
#ifndef TUNBROKER_DISPATCH_H
#define TUNBROKER_DISPATCH_H

#include <stdbool.h>

#include "closer.h"
#include "codec.h"
#include "conf.h"
#include "lease.h"
#include "linkwatch.h"
#include "netlink.h"
#include "netns.h"
#include "nsopen.h"
#include "policy.h"

/* What every request handler may use. */
struct broker {
	struct broker_config config;
	struct netlink *nl;
	struct lease_table *leases;
	struct linkwatch *watch;	/* deletes devices without waiting */
	struct closer *closer;		/* NULL: close inline */
	struct nsopen *nsopen;		/* NULL: no namespaces served */
	struct netns_id home;		/* the broker's network namespace */
};

/*
 * A reply ready to send.  The reply owns its descriptors until
 * reply_release() closes them, which the server does right after sending.
 */
struct reply {
	struct tb_builder msg;		/* buf is NULL if none could be built */
	int fds[TB_MAX_QUEUES];
	size_t nfds;
	struct closer *closer;		/* closes fds off the loop */
	bool close_connection;		/* drop the client after sending */
	/*
	 * Nonzero: no reply yet.  The request released this link, and its
	 * answer waits for the kernel; see dispatch_release_done().
	 */
	unsigned release_ifindex;
	char release_name[TB_IFNAME_MAX];
	/*
	 * A grant's log line and its device ("" for none), written by
	 * dispatch_reply_sent() once the reply is on its way: the client
	 * does not wait for the log.
	 */
	char grant_log[1024];
	char grant_device[TB_IFNAME_MAX];
};

/*
 * Answers msg, which tb_msg_parse() accepted, from the client who; fds
 * are the msg->nfds descriptors that came with it, borrowed (the caller
 * closes them).  Logs one line per grant and per refusal.
 */
void dispatch_message(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply);

/* Logs what reply, now sent to who, granted (if anything). */
void dispatch_reply_sent(const struct peer_identity *who,
    const struct reply *reply);

/*
 * The reply to a message that failed to parse with err: an ERROR that
 * echoes its sequence number when the header could be read.  The
 * connection is closed after it.
 */
void dispatch_malformed(const struct peer_identity *who,
    const struct tb_msg *msg, const struct tb_error *err,
    struct reply *reply);

/*
 * The reply to the RELEASE with sequence number seq of name (ifindex) by
 * who, once the closer reports result for it: RELEASED when the link is
 * gone (0, or -ENODEV: gone already), else an ERROR.  The lease ends with
 * the link, so that a LIST right after the RELEASED no longer shows it.
 */
void dispatch_release_done(struct broker *b, const struct peer_identity *who,
    uint32_t seq, const char *name, unsigned ifindex, int result,
    struct reply *reply);

void reply_release(struct reply *reply);

#endif /* TUNBROKER_DISPATCH_H */
