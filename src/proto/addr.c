#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

size_t
tb_addr_len(const struct tb_addr *addr)
{
	switch (addr->family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

int
tb_addr_validate(const struct tb_addr *addr)
{
	size_t len = tb_addr_len(addr), i;

	if (len == 0 || addr->prefixlen > len * 8)
		return -EINVAL;
	if (addr->reserved[0] != 0 || addr->reserved[1] != 0)
		return -EINVAL;
	for (i = len; i < sizeof(addr->addr); i++) {
		if (addr->addr[i] != 0)
			return -EINVAL;
	}
	return 0;
}

/* Parses a decimal prefix length of at most max; -1 if it is not one. */
static int
parse_prefixlen(const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	return (int)v;
}

int
tb_addr_parse(const char *text, bool prefix_optional, struct tb_addr *out,
    struct tb_error *err)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t hostlen;
	int prefixlen;

	memset(out, 0, sizeof(*out));
	slash = strchr(text, '/');
	hostlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (hostlen == 0 || hostlen >= sizeof(host))
		goto bad;
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';

	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		goto bad;

	if (slash == NULL) {
		if (!prefix_optional)
			return tb_error_set(err, -EINVAL,
			    "address \"%s\" has no prefix length (write it as ADDRESS/PREFIX)",
			    text);
		out->prefixlen = (uint8_t)(tb_addr_len(out) * 8);
		return 0;
	}
	prefixlen = parse_prefixlen(slash + 1, (unsigned)tb_addr_len(out) * 8);
	if (prefixlen < 0)
		return tb_error_set(err, -EINVAL,
		    "address \"%s\" has an invalid prefix length (0 to %zu)",
		    text, tb_addr_len(out) * 8);
	out->prefixlen = (uint8_t)prefixlen;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return tb_error_set(err, -EINVAL,
	    "\"%s\" is not an IPv4 or IPv6 address", text);
}

const char *
tb_addr_format(const struct tb_addr *addr, bool with_prefix, char *buf,
    size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (tb_addr_validate(addr) != 0 ||
	    inet_ntop(addr->family, addr->addr, host, sizeof(host)) == NULL) {
		snprintf(buf, size, "?");
		return buf;
	}
	if (with_prefix)
		snprintf(buf, size, "%s/%u", host, addr->prefixlen);
	else
		snprintf(buf, size, "%s", host);
	return buf;
}

bool
tb_addr_same_prefix(const struct tb_addr *a, const struct tb_addr *b,
    unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask = (uint8_t)(0xff00u >> rest);

	if (a->family != b->family || memcmp(a->addr, b->addr, whole) != 0)
		return false;
	return rest == 0 || ((a->addr[whole] ^ b->addr[whole]) & mask) == 0;
}

bool
tb_addr_has_host_bits(const struct tb_addr *addr)
{
	struct tb_addr net = *addr;

	tb_addr_mask(&net);
	return memcmp(net.addr, addr->addr, sizeof(net.addr)) != 0;
}

void
tb_addr_mask(struct tb_addr *addr)
{
	size_t i;

	for (i = 0; i < sizeof(addr->addr); i++) {
		unsigned keep = addr->prefixlen > i * 8 ?
		    addr->prefixlen - (unsigned)i * 8 : 0;

		if (keep < 8)
			addr->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int
tb_mac_parse(const char *text, uint8_t mac[TB_MAC_LEN], struct tb_error *err)
{
	const char *p = text;
	size_t i;

	for (i = 0; i < TB_MAC_LEN; i++) {
		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) ||
		    p[2] != (i + 1 < TB_MAC_LEN ? ':' : '\0'))
			return tb_error_set(err, -EINVAL,
			    "mac \"%s\" is not six hex bytes separated by ':' "
			    "(like 02:00:5e:10:00:01)", text);
		mac[i] = (uint8_t)strtoul((char[3]){ p[0], p[1], '\0' }, NULL,
		    16);
		p += 3;
	}
	return 0;
}

const char *
tb_mac_format(const uint8_t mac[TB_MAC_LEN], char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
	    mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

const char *
tb_offload_format(uint32_t offload, char *buf, size_t size)
{
	static const char *const names[] = {
		"csum", "tso4", "tso6", "tso-ecn", "uso4", "uso6",
	};
	size_t i, used = 0;
	int w;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (offload == 0) {
		snprintf(buf, size, "none");
		return buf;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && used < size; i++) {
		if (!(offload & (1u << i)))
			continue;
		w = snprintf(buf + used, size - used, "%s%s",
		    used > 0 ? "," : "", names[i]);
		if (w < 0)
			return buf;
		used += (size_t)w;
	}
	if ((offload & ~TB_OFFLOAD_ALL) != 0 && used < size)
		snprintf(buf + used, size - used, "%s0x%x", used > 0 ? "," : "",
		    (unsigned)(offload & ~TB_OFFLOAD_ALL));
	return buf;
}

int
tb_offload_check(uint32_t offload, struct tb_error *err)
{
	const uint32_t uso = TB_OFFLOAD_USO4 | TB_OFFLOAD_USO6;
	const uint32_t tso = TB_OFFLOAD_TSO4 | TB_OFFLOAD_TSO6;
	char names[TB_OFFLOAD_TEXT_MAX];

	if (offload == 0)
		return 0;
	tb_offload_format(offload, names, sizeof(names));
	if ((offload & ~TB_OFFLOAD_ALL) != 0)
		return tb_error_set(err, -EINVAL, "offload %s has unknown "
		    "bits 0x%x", names, (unsigned)(offload & ~TB_OFFLOAD_ALL));
	if (!(offload & TB_OFFLOAD_CSUM))
		return tb_error_set(err, -EINVAL, "offload %s needs csum: "
		    "the kernel segments only packets whose checksum it may "
		    "leave partial", names);
	if ((offload & uso) != 0 && (offload & uso) != uso)
		return tb_error_set(err, -EINVAL, "offload %s: the kernel "
		    "takes uso4 and uso6 only together", names);
	if ((offload & TB_OFFLOAD_TSO_ECN) && !(offload & tso))
		return tb_error_set(err, -EINVAL, "offload %s: tso-ecn "
		    "needs tso4 or tso6", names);
	return 0;
}
