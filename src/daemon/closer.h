/*
 * Closing device descriptors off the event loop.  The kernel's last close
 * of a TUN queue waits for an RCU grace period (tens of milliseconds), and
 * the broker's copy is the last one whenever the client has already
 * closed its own: that wait must not stall every other client.
 */
#ifndef TUNBROKER_CLOSER_H
#define TUNBROKER_CLOSER_H

struct closer;

/*
 * Starts the closing thread, with every signal blocked.  Capabilities are
 * per thread on Linux: start it after dropping privileges, so that it
 * holds no more than the rest of the broker.
 */
int closer_start(struct closer **out);

/*
 * Hands fd over to be closed; never blocks.  With no closer (NULL) or a
 * full queue, fd is closed at once instead.
 */
void closer_close(struct closer *c, int fd);

/* Closes what is still queued, then stops the thread. */
void closer_stop(struct closer *c);

#endif /* TUNBROKER_CLOSER_H */
