/* libtunclient's private structures, shared by its source files. */
#ifndef TUNCLIENT_INTERNAL_H
#define TUNCLIENT_INTERNAL_H

#include "codec.h"
#include "tunclient.h"

struct tunclient_conn {
	int sock;
	uint32_t next_seq;
	struct tb_error err;
	uint8_t *buf;		/* TB_MSG_MAX_SIZE bytes for replies */
};

struct tunclient_request {
	struct tb_create_request spec;
	struct tb_error err;
};

struct tunclient_lease {
	struct tb_created_reply info;
	int fds[TB_MSG_MAX_FDS];	/* -1 once taken */
	size_t nfds;
};

/*
 * Builds a lease from a CREATED reply and the descriptors that came with
 * it, which the lease takes over (closing them on failure too).
 */
int lease_new(const struct tb_created_reply *info, int *fds, size_t nfds,
    struct tunclient_lease **out);

#endif /* TUNCLIENT_INTERNAL_H */
