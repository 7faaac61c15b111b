/*
 * Device teardown off the event loop.  The kernel's last close of a TUN
 * queue, and the deletion of a link, both wait for RCU grace periods (tens
 * of milliseconds each); the loop must never wait for them.  One thread
 * does both, and deletes whatever is pending together: one RTM_DELLINK of
 * an interface group costs about what one device alone does.
 */
#ifndef TUNBROKER_CLOSER_H
#define TUNBROKER_CLOSER_H

#include <stdbool.h>

struct closer;

/*
 * Starts the thread, with every signal blocked, and its own rtnetlink
 * socket.  Capabilities are per thread on Linux: start it after dropping
 * privileges, so that it holds no more than the rest of the broker.
 */
int closer_start(struct closer **out);

/*
 * Hands fd over to be closed; never blocks.  With no closer (NULL) or a
 * full queue, fd is closed at once instead.  Closes queued after a
 * deletion happen after it.
 */
void closer_close(struct closer *c, int fd);

/*
 * Asks for the link ifindex to be deleted; never blocks.  False when it
 * could not be queued (no closer, or a full queue): the caller deletes it
 * itself.
 */
bool closer_delete(struct closer *c, unsigned ifindex);

/* Does what is still queued, then stops the thread. */
void closer_stop(struct closer *c);

#endif /* TUNBROKER_CLOSER_H */
