/*
 * Device teardown off the event loop.  The kernel's last close of a TUN
 * queue, and the deletion of a link, both wait for RCU grace periods (tens
 * of milliseconds each); the loop must never wait for them.  One thread
 * deletes whatever is pending together (one RTM_DELLINK of an interface
 * group costs about what one device alone does); a few others close
 * descriptors, so that one close that waits does not hold up the rest.
 */
#ifndef TUNBROKER_CLOSER_H
#define TUNBROKER_CLOSER_H

#include <stdbool.h>

#include <event2/event.h>

struct closer;

/*
 * How the deletion of ifindex ended: 0 once the kernel has acknowledged
 * it (the link is gone), -ENODEV if it was gone already, else why it
 * failed.
 */
typedef void (*closer_done_cb)(unsigned ifindex, int result, void *arg);

/*
 * Starts the threads, with every signal blocked, and the deleting one's
 * own rtnetlink socket.  Capabilities are per thread on Linux: start it after dropping
 * privileges, so that it holds no more than the rest of the broker.
 */
int closer_start(struct closer **out);

/*
 * Hands fd over to be closed; never blocks.  With no closer (NULL) or a
 * full queue, fd is closed at once instead.  Closes and deletions are
 * not ordered with each other.  Once closer_watch() has run, the closes of
 * one turn of the loop go to the close threads together at the turn's
 * end.
 */
void closer_close(struct closer *c, int fd);

/*
 * Asks for the link ifindex to be deleted; never blocks.  False when it
 * could not be queued (no closer, or a full queue): the caller deletes it
 * itself.  Each queued deletion is reported to the closer_watch()
 * callback once it has ended.
 */
bool closer_delete(struct closer *c, unsigned ifindex);

/*
 * Reports each finished deletion to cb on base's loop, in the order they
 * finish.  A NULL closer has nothing to report: 0.  0 or -ENOMEM.
 */
int closer_watch(struct closer *c, struct event_base *base,
    closer_done_cb cb, void *arg);

/*
 * Does what is still queued, reporting the deletions to the closer_watch()
 * callback from the calling thread, then stops the threads.  Call it
 * before freeing the event base.
 */
void closer_stop(struct closer *c);

#endif /* TUNBROKER_CLOSER_H */
