/*
 * A device's offloads as the kernel has them: the features of its
 * interface, read with SIOCETHTOOL.  The kernel has no TUNGETOFFLOAD, and
 * what the broker set is only a starting point (any holder of a queue may
 * call TUNSETOFFLOAD), so the interface's active features are the truth.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The kernel's feature names (ETH_SS_FEATURES) for each offload bit. */
static const struct {
	const char *feature;
	unsigned offload;
} offload_features[] = {
	{ "tx-checksum-ip-generic", TUNCLIENT_OFFLOAD_CSUM },	/* HW_CSUM */
	{ "tx-tcp-segmentation", TUNCLIENT_OFFLOAD_TSO4 },
	{ "tx-tcp6-segmentation", TUNCLIENT_OFFLOAD_TSO6 },
	{ "tx-tcp-ecn-segmentation", TUNCLIENT_OFFLOAD_TSO_ECN },
	/* One feature, GSO_UDP_L4, for both: the kernel sets them together. */
	{ "tx-udp-segmentation",
	    TUNCLIENT_OFFLOAD_USO4 | TUNCLIENT_OFFLOAD_USO6 },
};

#define NFEATURES	(sizeof(offload_features) / sizeof(offload_features[0]))

/* Issues one SIOCETHTOOL request about ifname; 0 or a negative errno. */
static int
ethtool(int sock, const char *ifname, void *data)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	return ioctl(sock, SIOCETHTOOL, &ifr) == -1 ? -errno : 0;
}

/* The number of feature names the kernel knows, or a negative errno. */
static int
feature_count(int sock, const char *ifname)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t len;
	} info;
	int r;

	memset(&info, 0, sizeof(info));
	info.hdr.cmd = ETHTOOL_GSSET_INFO;
	info.hdr.sset_mask = 1ull << ETH_SS_FEATURES;
	if ((r = ethtool(sock, ifname, &info)) != 0)
		return r;
	if (!(info.hdr.sset_mask & (1ull << ETH_SS_FEATURES)) ||
	    info.len == 0 || info.len > 4096)
		return -EOPNOTSUPP;
	return (int)info.len;
}

/*
 * Reads which of offload_features are active on ifname: the names give
 * each feature's index, and the active bits come from ETHTOOL_GFEATURES.
 */
static int
read_features(int sock, const char *ifname, unsigned *offload)
{
	struct ethtool_gstrings *names = NULL;
	struct ethtool_gfeatures *feats = NULL;
	uint32_t n, blocks, i, j;
	int r;

	if ((r = feature_count(sock, ifname)) < 0)
		return r;
	n = (uint32_t)r;
	blocks = (n + 31) / 32;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	feats = calloc(1, sizeof(*feats) +
	    blocks * sizeof(feats->features[0]));
	if (names == NULL || feats == NULL) {
		r = -ENOMEM;
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_FEATURES;
	names->len = n;
	feats->cmd = ETHTOOL_GFEATURES;
	feats->size = blocks;
	if ((r = ethtool(sock, ifname, names)) != 0 ||
	    (r = ethtool(sock, ifname, feats)) != 0)
		goto out;
	*offload = 0;
	for (i = 0; i < n && i < names->len; i++) {
		const char *name = (const char *)names->data +
		    (size_t)i * ETH_GSTRING_LEN;

		for (j = 0; j < NFEATURES; j++) {
			if (strncmp(name, offload_features[j].feature,
			    ETH_GSTRING_LEN) != 0)
				continue;
			if (feats->features[i / 32].active & (1u << (i % 32)))
				*offload |= offload_features[j].offload;
		}
	}
out:
	free(names);
	free(feats);
	return r;
}

int
device_query_offload(const char *ifname, unsigned ifindex,
    unsigned *offload)
{
	struct ifreq ifr;
	int sock, r;

	*offload = 0;
	/* Any socket reaches SIOCETHTOOL; AF_UNIX needs no IP stack. */
	if ((sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	/*
	 * Looked up first, also without an index to compare: SIOCETHTOOL on
	 * a name that is not there makes the kernel try to load a module of
	 * that name for a privileged caller.
	 */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFINDEX, &ifr) == -1) {
		r = -errno;
		goto out;
	}
	/* Another interface of the same name: the device is elsewhere. */
	if (ifindex != 0 && (unsigned)ifr.ifr_ifindex != ifindex) {
		r = -ENODEV;
		goto out;
	}
	r = read_features(sock, ifname, offload);
out:
	close(sock);
	return r;
}
