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
};

/*
 * Answers msg, which tb_msg_parse() accepted, from the client who; fds
 * are the msg->nfds descriptors that came with it, borrowed (the caller
 * closes them).  Logs one line per grant and per refusal.
 */
void dispatch_message(struct broker *b, const struct peer_identity *who,
    const struct tb_msg *msg, const int *fds, struct reply *reply);

/*
 * The reply to a message that failed to parse with err: an ERROR that
 * echoes its sequence number when the header could be read.  The
 * connection is closed after it.
 */
void dispatch_malformed(const struct peer_identity *who,
    const struct tb_msg *msg, const struct tb_error *err,
    struct reply *reply);

void reply_release(struct reply *reply);

#endif /* TUNBROKER_DISPATCH_H */
