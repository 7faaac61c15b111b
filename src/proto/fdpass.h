/*
 * Sending and receiving one message with descriptors over a
 * SOCK_SEQPACKET socket (SCM_RIGHTS).
 */
#ifndef TUNBROKER_FDPASS_H
#define TUNBROKER_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/*
 * Sends the len bytes at buf as one message with nfds descriptors; the
 * descriptors stay the caller's.  Returns 0, -EAGAIN when a non-blocking
 * socket is full, or another negative errno.  Never raises SIGPIPE.
 */
int tb_send(int sock, const void *buf, size_t len, const int *fds,
    size_t nfds);

/*
 * Receives one message into buf (of size bytes; TB_MSG_MAX_SIZE holds
 * any valid message) and the descriptors that came with it into fds, which
 * has room for TB_MSG_MAX_FDS.  Descriptors are received close-on-exec and
 * belong to the caller, who must close them even when the message turns
 * out to be invalid.  Returns the message's length, 0 when the peer has
 * closed the connection or sent an empty datagram (which the protocol does
 * not allow, so callers treat both as the end of the connection), or a
 * negative errno: -EAGAIN when a non-blocking
 * socket has nothing; -EMSGSIZE (err->detail TB_DECODE_TOO_BIG) for a
 * message larger than size; -EMSGSIZE (TB_DECODE_CTRUNC) when the kernel
 * truncated the ancillary data.  On an error every descriptor received has
 * already been closed and *nfds is 0.
 */
ssize_t tb_recv(int sock, void *buf, size_t size, int *fds, size_t *nfds,
    struct tb_error *err);

/* Closes the n descriptors in fds and marks them -1. */
void tb_close_fds(int *fds, size_t n);

#endif /* TUNBROKER_FDPASS_H */
