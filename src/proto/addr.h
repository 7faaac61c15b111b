/* Converting struct tb_addr to and from the text people type. */
#ifndef TUNBROKER_ADDR_H
#define TUNBROKER_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "protocol.h"

/* Room for "ffff:...:ffff/128" with its NUL. */
#define TB_ADDR_TEXT_MAX	(46 + 4 + 1)

/*
 * Parses "198.18.0.1/24" or "2001:db8::1/64" into out.  Without a prefix,
 * the family's full length is taken when prefix_optional is set; otherwise
 * the prefix is required.  Returns 0 or -EINVAL with a sentence naming text.
 */
int tb_addr_parse(const char *text, bool prefix_optional, struct tb_addr *out,
    struct tb_error *err);

/*
 * Writes addr as text into buf ("198.18.0.1/24"; the prefix is left out when
 * with_prefix is false) and returns buf.  An invalid addr gives "?".
 */
const char *tb_addr_format(const struct tb_addr *addr, bool with_prefix,
    char *buf, size_t size);

/* Checks family, prefix length and zero padding; 0 or -EINVAL. */
int tb_addr_validate(const struct tb_addr *addr);

/* The number of address bytes for addr's family: 4, 16, or 0 if invalid. */
size_t tb_addr_len(const struct tb_addr *addr);

/* Clears the host bits of addr, the bits after its prefix length. */
void tb_addr_mask(struct tb_addr *addr);

/* Whether addr has host bits set: whether it is not a network. */
bool tb_addr_has_host_bits(const struct tb_addr *addr);

/*
 * Whether a and b are of the same family and agree in their first bits
 * bits (bits at most their family's length).
 */
bool tb_addr_same_prefix(const struct tb_addr *a, const struct tb_addr *b,
    unsigned bits);

/* "02:00:5e:10:00:01" and its NUL. */
#define TB_MAC_TEXT_MAX		18

/*
 * Reads an Ethernet address written as six hex bytes separated by ':'.
 * Returns 0, or -EINVAL with a sentence naming text in err.
 */
int tb_mac_parse(const char *text, uint8_t mac[TB_MAC_LEN],
    struct tb_error *err);

/* Writes mac as "xx:xx:xx:xx:xx:xx" into buf and returns buf. */
const char *tb_mac_format(const uint8_t mac[TB_MAC_LEN], char *buf,
    size_t size);

/* "csum,tso4,tso6,tso-ecn,uso4,uso6,0xffffffc0" and its NUL. */
#define TB_OFFLOAD_TEXT_MAX	48

/*
 * Writes offload bits (TB_OFFLOAD_*) as the names tunctl(1) takes, comma
 * separated ("csum,tso4"), with unknown bits last in hex and "none" for
 * 0, into buf and returns buf.
 */
const char *tb_offload_format(uint32_t offload, char *buf, size_t size);

/*
 * Refuses the combinations of offload bits that TUNSETOFFLOAD refuses
 * (segmentation without csum, uso4 without uso6, tso-ecn without tso)
 * and unknown bits: 0, or -EINVAL with a sentence naming them in err.
 */
int tb_offload_check(uint32_t offload, struct tb_error *err);

#endif /* TUNBROKER_ADDR_H */
