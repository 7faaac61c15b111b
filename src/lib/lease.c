/* Leases: a created device's description and its queue descriptors. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fdpass.h"
#include "internal.h"

int
lease_new(const struct tb_created_reply *info, int *fds, size_t nfds,
    struct tunclient_lease **out)
{
	struct tunclient_lease *lease;

	*out = NULL;
	if ((lease = calloc(1, sizeof(*lease))) == NULL) {
		tb_close_fds(fds, nfds);
		return -ENOMEM;
	}
	lease->info = *info;
	memcpy(lease->fds, fds, nfds * sizeof(int));
	lease->nfds = nfds;
	*out = lease;
	return 0;
}

void
tunclient_lease_free(struct tunclient_lease *lease)
{
	if (lease == NULL)
		return;
	tb_close_fds(lease->fds, lease->nfds);
	free(lease);
}

const char *
tunclient_lease_name(const struct tunclient_lease *lease)
{
	return lease->info.name;
}

unsigned
tunclient_lease_ifindex(const struct tunclient_lease *lease)
{
	return lease->info.ifindex;
}

unsigned
tunclient_lease_mtu(const struct tunclient_lease *lease)
{
	return lease->info.mtu;
}

size_t
tunclient_lease_fd_count(const struct tunclient_lease *lease)
{
	return lease->nfds;
}

int
tunclient_lease_fd(const struct tunclient_lease *lease, size_t i)
{
	if (i >= lease->nfds)
		return -ERANGE;
	return lease->fds[i] >= 0 ? lease->fds[i] : -EBADF;
}

int
tunclient_lease_take_fd(struct tunclient_lease *lease, size_t i)
{
	int fd = tunclient_lease_fd(lease, i);

	if (fd >= 0)
		lease->fds[i] = -1;
	return fd;
}

size_t
tunclient_lease_address_count(const struct tunclient_lease *lease)
{
	return lease->info.naddrs;
}

/* Formats addr into buf, or says why it does not fit. */
static int
format_addr(const struct tb_addr *addr, bool with_prefix, char *buf,
    size_t size)
{
	char text[TB_ADDR_TEXT_MAX];
	size_t len;

	tb_addr_format(addr, with_prefix, text, sizeof(text));
	len = strlen(text);
	if (len >= size)
		return -ENOSPC;
	memcpy(buf, text, len + 1);
	return 0;
}

int
tunclient_lease_address(const struct tunclient_lease *lease, size_t i,
    char *buf, size_t size)
{
	if (i >= lease->info.naddrs)
		return -ERANGE;
	return format_addr(&lease->info.addrs[i], true, buf, size);
}

int
tunclient_lease_peer(const struct tunclient_lease *lease, char *buf,
    size_t size)
{
	if (!lease->info.has_peer)
		return -ENOENT;
	return format_addr(&lease->info.peer, false, buf, size);
}
