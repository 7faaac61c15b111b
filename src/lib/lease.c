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

enum tunclient_device_type
tunclient_lease_type(const struct tunclient_lease *lease)
{
	/* A broker that does not say made a TUN: TAP came with the field. */
	return lease->info.device_type == TB_DEVICE_TAP ? TUNCLIENT_TAP :
	    TUNCLIENT_TUN;
}

int
tunclient_lease_mac(const struct tunclient_lease *lease, char *buf,
    size_t size)
{
	if (!lease->info.has_mac)
		return -ENOENT;
	if (size < TB_MAC_TEXT_MAX)
		return -ENOSPC;
	tb_mac_format(lease->info.mac, buf, size);
	return 0;
}

size_t
tunclient_lease_route_count(const struct tunclient_lease *lease)
{
	return lease->info.nroutes;
}

int
tunclient_lease_route(const struct tunclient_lease *lease, size_t i,
    char *buf, size_t size, unsigned *metric)
{
	if (i >= lease->info.nroutes)
		return -ERANGE;
	if (metric != NULL)
		*metric = lease->info.routes[i].metric;
	return format_addr(&lease->info.routes[i].dst, true, buf, size);
}

const char *
tunclient_lease_bridge(const struct tunclient_lease *lease)
{
	return lease->info.bridge[0] != '\0' ? lease->info.bridge : NULL;
}

bool
tunclient_lease_multi_queue(const struct tunclient_lease *lease)
{
	return lease->info.queues != 0;
}

unsigned
tunclient_lease_vnet_hdr(const struct tunclient_lease *lease)
{
	return lease->info.vnet_hdr;
}

unsigned
tunclient_lease_offload(const struct tunclient_lease *lease)
{
	return lease->info.offload;
}

unsigned
tunclient_lease_txqueuelen(const struct tunclient_lease *lease)
{
	return lease->info.txqueuelen;
}

int
tunclient_lease_netns(const struct tunclient_lease *lease, uint64_t *dev,
    uint64_t *ino)
{
	if (!lease->info.has_netns)
		return -ENOENT;
	*dev = lease->info.netns.dev;
	*ino = lease->info.netns.ino;
	return 0;
}
