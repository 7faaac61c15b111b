/*
 * Reading tunbrokerd.conf(5): the main file, then its drop-ins.  inih
 * splits lines into sections and keys; this file gives each key its
 * meaning, checks every value and reports the first mistake as
 * "FILE:LINE: what is wrong".
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "addr.h"
#include "conf.h"
#include "policy.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define MTU_MIN		68
#define MTU_MAX		65535
#define RULE_NAME_MAX	64	/* a rule's name, cited in every refusal */
#define PATTERN_MAX	64	/* one names glob */
#define MAX_KEYS	32	/* keys in the table below, all sections */

enum section_kind {
	SECTION_NONE,		/* before the first header of a file */
	SECTION_SOCKET,
	SECTION_LIMITS,
	SECTION_RULE,
	SECTION_POOL,
};

struct parse_state;
struct key_spec;

typedef int (*key_parser)(struct parse_state *st,
    const struct key_spec *spec, const char *value);

/* One key: where it may appear and how its value is read. */
struct key_spec {
	enum section_kind section;
	const char *key;
	key_parser parse;	/* for a list: called once for each word */
	bool list;		/* an indented line continues its value */
	size_t offset;		/* of an unsigned in broker_limits,
				   policy_rule or pool_def */
	unsigned min, max;	/* for numbers */
};

/* What the parser carries from one line to the next. */
struct parse_state {
	struct broker_config cfg;
	const char *path;		/* the file being read, in cfg.files */
	FILE *file;
	unsigned line;			/* the line inih is parsing now */
	bool indented;			/* which starts with a blank */
	enum section_kind section;
	size_t rule;			/* cfg.rules index, in a [rule] */
	size_t pool;			/* cfg.pools index, in a [pool] */
	const struct key_spec *last_key; /* what a continuation extends */
	unsigned seen_line[MAX_KEYS];	/* where this section gave each key */
	bool failed;
	unsigned err_line;		/* the line being read at the error */
	struct tb_error err;		/* the first error, FILE:LINE: ... */
};

/* Records the first error, citing file:line, and returns code. */
__attribute__((format(printf, 5, 6)))
static int
fail_at(struct parse_state *st, int code, const char *file, unsigned line,
    const char *fmt, ...)
{
	char text[TB_ERROR_TEXT_MAX];
	va_list ap;

	if (st->failed)
		return st->err.code;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (file != NULL)
		tb_error_set(&st->err, code, "%s:%u: %s", file, line, text);
	else
		tb_error_set(&st->err, code, "%s", text);
	st->failed = true;
	st->err_line = st->line;
	return code;
}

#define fail(st, ...) \
	fail_at((st), -EINVAL, (st)->path, (st)->line, __VA_ARGS__)
#define fail_nomem(st) \
	fail_at((st), -ENOMEM, (st)->path, (st)->line, "out of memory")

void
conf_init_default(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_mode = 0660;
	cfg->limits = (struct broker_limits){
		.connections = 256,
		.connections_per_user = 16,
		.devices_per_user = 64,
		.idle_timeout_s = 60,
		.message_size = TB_MSG_MAX_SIZE,
	};
}

static void
free_strings(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static void
rule_free(struct policy_rule *rule)
{
	free(rule->name);
	free(rule->file);
	free(rule->users);
	free(rule->groups);
	free_strings(rule->names, rule->nnames);
	free(rule->addresses);
	free(rule->routes);
	free_strings(rule->bridges, rule->nbridges);
	free_strings(rule->pools, rule->npools);
}

static void
pool_def_free(struct pool_def *pool)
{
	free(pool->name);
	free(pool->file);
}

void
conf_free(struct broker_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		rule_free(&cfg->rules[i]);
	free(cfg->rules);
	for (i = 0; i < cfg->npools; i++)
		pool_def_free(&cfg->pools[i]);
	free(cfg->pools);
	free_strings(cfg->files, cfg->nfiles);
	memset(cfg, 0, sizeof(*cfg));
}

/* Appends the size bytes at item to the array *v of *n items. */
static int
append(void *v, size_t *n, size_t size, const void *item)
{
	void **array = v;
	char *grown;

	if (*n >= SIZE_MAX / size - 1)
		return -ENOMEM;
	if ((grown = realloc(*array, (*n + 1) * size)) == NULL)
		return -ENOMEM;
	memcpy(grown + *n * size, item, size);
	*array = grown;
	(*n)++;
	return 0;
}

/* Appends a copy of s to the string array *v of *n. */
static int
append_string(char ***v, size_t *n, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL || append(v, n, sizeof(copy), &copy) != 0) {
		free(copy);
		return -ENOMEM;
	}
	return 0;
}

static struct policy_rule *
current_rule(struct parse_state *st)
{
	return &st->cfg.rules[st->rule];
}

static struct pool_def *
current_pool(struct parse_state *st)
{
	return &st->cfg.pools[st->pool];
}

/* Parses a decimal number from min to max; false unless all of s is one. */
static bool
parse_number(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

static int
resolve_user(const char *name, uid_t *out)
{
	struct passwd *pw;
	unsigned long id;

	if (parse_number(name, 0, (uid_t)-1 - 1, &id)) {
		*out = (uid_t)id;
		return 0;
	}
	if ((pw = getpwnam(name)) == NULL)
		return -ENOENT;
	*out = pw->pw_uid;
	return 0;
}

static int
resolve_group(const char *name, gid_t *out)
{
	struct group *gr;
	unsigned long id;

	if (parse_number(name, 0, (gid_t)-1 - 1, &id)) {
		*out = (gid_t)id;
		return 0;
	}
	if ((gr = getgrnam(name)) == NULL)
		return -ENOENT;
	*out = gr->gr_gid;
	return 0;
}

/* Calls one for each word of a list separated by commas and blanks. */
static int
parse_list(struct parse_state *st, const struct key_spec *spec,
    const char *value, key_parser one)
{
	char *copy, *word, *save = NULL;
	unsigned n = 0;
	int r = 0;

	if ((copy = strdup(value)) == NULL)
		return fail_nomem(st);
	for (word = strtok_r(copy, ", \t", &save); word != NULL && r == 0;
	    word = strtok_r(NULL, ", \t", &save), n++)
		r = one(st, spec, word);
	free(copy);
	if (r == 0 && n == 0)
		r = fail(st, "%s: a value is needed", spec->key);
	return r;
}

/* Reads value as a number into the unsigned spec->offset names. */
static int
parse_unsigned_key(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	unsigned long n;
	char *base;

	if (!parse_number(value, spec->min, spec->max, &n))
		return fail(st, "%s: \"%s\" is not a number from %u to %u",
		    spec->key, value, spec->min, spec->max);
	if (spec->section == SECTION_LIMITS)
		base = (char *)&st->cfg.limits;
	else if (spec->section == SECTION_POOL)
		base = (char *)current_pool(st);
	else
		base = (char *)current_rule(st);
	*(unsigned *)(void *)(base + spec->offset) = (unsigned)n;
	return 0;
}

/* yes/no/true/false/1/0; -1 for anything else. */
static int
parse_bool(const char *s)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0)
		return 1;
	if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0)
		return 0;
	return -1;
}

static int
parse_socket_mode(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	unsigned long mode;
	char *end;

	errno = 0;
	mode = strtoul(value, &end, 8);
	if (*value < '0' || *value > '7' || errno != 0 || *end != '\0' ||
	    mode > 0777)
		return fail(st, "%s: \"%s\" is not an octal mode from 0 to 0777",
		    spec->key, value);
	st->cfg.socket_mode = (mode_t)mode;
	return 0;
}

static int
parse_socket_group(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	if (resolve_group(value, &st->cfg.socket_group) != 0)
		return fail(st, "%s: no such group \"%s\"", spec->key, value);
	st->cfg.has_socket_group = true;
	return 0;
}

static int
add_user(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);
	uid_t uid;

	if (resolve_user(word, &uid) != 0)
		return fail(st, "%s: no such user \"%s\"", spec->key, word);
	if (append(&rule->users, &rule->nusers, sizeof(uid), &uid) != 0)
		return fail_nomem(st);
	return 0;
}

static int
add_group(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);
	gid_t gid;

	if (resolve_group(word, &gid) != 0)
		return fail(st, "%s: no such group \"%s\"", spec->key, word);
	if (append(&rule->groups, &rule->ngroups, sizeof(gid), &gid) != 0)
		return fail_nomem(st);
	return 0;
}

static int
add_device_type(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	if (strcmp(word, "tun") == 0)
		current_rule(st)->device_types |= 1u << TB_DEVICE_TUN;
	else if (strcmp(word, "tap") == 0)
		current_rule(st)->device_types |= 1u << TB_DEVICE_TAP;
	else
		return fail(st, "%s: \"%s\" is not tun or tap", spec->key, word);
	return 0;
}

static int
add_name_pattern(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);

	if (strlen(word) > PATTERN_MAX)
		return fail(st, "%s: \"%s\" is longer than %d characters",
		    spec->key, word, PATTERN_MAX);
	/* What a name may hold, and fnmatch(3)'s own characters. */
	if (word[strspn(word, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-%*?[]!")] != '\0')
		return fail(st, "%s: \"%s\" may hold only interface-name "
		    "characters and * ? [ ] !", spec->key, word);
	if (append_string(&rule->names, &rule->nnames, word) != 0)
		return fail_nomem(st);
	return 0;
}

/* Parses a CIDR into a network: host bits set are a mistake, said so. */
static int
parse_network(struct parse_state *st, const struct key_spec *spec,
    const char *word, struct tb_addr *out)
{
	char text[TB_ADDR_TEXT_MAX];
	struct tb_error e;
	struct tb_addr net;

	if (tb_addr_parse(word, true, out, &e) != 0)
		return fail(st, "%s: %s", spec->key, e.text);
	if (!tb_addr_has_host_bits(out))
		return 0;
	net = *out;
	tb_addr_mask(&net);
	return fail(st, "%s: %s has host bits set: the network is %s",
	    spec->key, word, tb_addr_format(&net, true, text, sizeof(text)));
}

static int
add_address_range(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);
	struct tb_addr net;
	int r;

	if ((r = parse_network(st, spec, word, &net)) != 0)
		return r;
	if (append(&rule->addresses, &rule->naddresses, sizeof(net), &net) != 0)
		return fail_nomem(st);
	return 0;
}

static int
add_route_prefix(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);
	struct tb_addr net;
	int r;

	if ((r = parse_network(st, spec, word, &net)) != 0)
		return r;
	if (append(&rule->routes, &rule->nroutes, sizeof(net), &net) != 0)
		return fail_nomem(st);
	return 0;
}

static int
add_bridge(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);

	/* A bridge exists already: a name, never a %d template. */
	if (strchr(word, '%') != NULL || policy_check_name(word, NULL) != 0)
		return fail(st, "%s: \"%s\" is not an interface name",
		    spec->key, word);
	if (append_string(&rule->bridges, &rule->nbridges, word) != 0)
		return fail_nomem(st);
	return 0;
}

/* "A-B" or "N", within MTU_MIN..MTU_MAX, A <= B. */
static int
parse_mtu(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	struct policy_rule *rule = current_rule(st);
	unsigned long lo, hi;
	const char *dash = strchr(value, '-');
	char first[16];
	bool ok;

	if (dash == NULL) {
		ok = parse_number(value, MTU_MIN, MTU_MAX, &lo);
		hi = lo;
	} else {
		ok = (size_t)(dash - value) < sizeof(first);
		if (ok) {
			memcpy(first, value, (size_t)(dash - value));
			first[dash - value] = '\0';
			ok = parse_number(first, MTU_MIN, MTU_MAX, &lo) &&
			    parse_number(dash + 1, MTU_MIN, MTU_MAX, &hi) &&
			    lo <= hi;
		}
	}
	if (!ok)
		return fail(st, "%s: \"%s\" is not N or A-B with "
		    "%u <= A <= B <= %u", spec->key, value, MTU_MIN, MTU_MAX);
	rule->mtu_min = (unsigned)lo;
	rule->mtu_max = (unsigned)hi;
	return 0;
}

static int
parse_offload(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	int b = parse_bool(value);

	if (b < 0)
		return fail(st, "%s: \"%s\" is not yes or no", spec->key,
		    value);
	current_rule(st)->offload = b == 1;
	return 0;
}

static int
parse_namespaces(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	if (strcmp(value, "none") == 0)
		current_rule(st)->namespaces = POLICY_NETNS_NONE;
	else if (strcmp(value, "own") == 0)
		current_rule(st)->namespaces = POLICY_NETNS_OWN;
	else
		return fail(st, "%s: \"%s\" is not none or own", spec->key,
		    value);
	return 0;
}

/* A section's name: what valid_section_name() allows. */
static bool
valid_section_name(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	return n > 0 && n <= RULE_NAME_MAX && name[n] == '\0';
}

/* One name of a rule's pools list; whether it is a pool is seen at the end. */
static int
add_pool_name(struct parse_state *st, const struct key_spec *spec,
    const char *word)
{
	struct policy_rule *rule = current_rule(st);
	size_t i;

	if (!valid_section_name(word))
		return fail(st, "%s: \"%s\" is not a pool name", spec->key,
		    word);
	for (i = 0; i < rule->npools; i++) {
		if (strcmp(rule->pools[i], word) == 0)
			return fail(st, "%s: pool %s is named twice", spec->key,
			    word);
	}
	if (rule->npools == 0)
		rule->pools_line = st->line;
	if (append_string(&rule->pools, &rule->npools, word) != 0)
		return fail_nomem(st);
	return 0;
}

static int
parse_pool_prefix(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	return parse_network(st, spec, value, &current_pool(st)->prefix);
}

#define LIMIT(k, field, lo, hi) { SECTION_LIMITS, k, parse_unsigned_key, \
	false, offsetof(struct broker_limits, field), lo, hi }
#define RULE_NUMBER(k, field, lo, hi) { SECTION_RULE, k, parse_unsigned_key, \
	false, offsetof(struct policy_rule, field), lo, hi }
#define RULE_LIST(k, fn) { SECTION_RULE, k, fn, true, 0, 0, 0 }
#define RULE_VALUE(k, fn) { SECTION_RULE, k, fn, false, 0, 0, 0 }

static const struct key_spec keys[] = {
	{ SECTION_SOCKET, "mode", parse_socket_mode, false, 0, 0, 0 },
	{ SECTION_SOCKET, "group", parse_socket_group, false, 0, 0, 0 },
	LIMIT("connections", connections, 1, 65536),
	LIMIT("connections-per-user", connections_per_user, 1, 65536),
	LIMIT("devices-per-user", devices_per_user, 1, 65536),
	LIMIT("idle-timeout", idle_timeout_s, 1, 86400),
	LIMIT("message-size", message_size, TB_HEADER_SIZE, TB_MSG_MAX_SIZE),
	RULE_LIST("users", add_user),
	RULE_LIST("groups", add_group),
	RULE_LIST("device-types", add_device_type),
	RULE_LIST("names", add_name_pattern),
	RULE_LIST("addresses", add_address_range),
	RULE_LIST("routes", add_route_prefix),
	RULE_VALUE("mtu", parse_mtu),
	RULE_NUMBER("queues", max_queues, 1, TB_MAX_QUEUES),
	RULE_VALUE("offload", parse_offload),
	RULE_LIST("bridges", add_bridge),
	RULE_VALUE("namespaces", parse_namespaces),
	RULE_NUMBER("max-devices", max_devices, 1, 65536),
	RULE_LIST("pools", add_pool_name),
	{ SECTION_POOL, "prefix", parse_pool_prefix, false, 0, 0, 0 },
	{ SECTION_POOL, "subnet", parse_unsigned_key, false,
	    offsetof(struct pool_def, subnet), 1, 128 },
};

_Static_assert(ARRAY_SIZE(keys) <= MAX_KEYS, "raise MAX_KEYS");

static const struct key_spec *
find_key(enum section_kind section, const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].section == section && strcmp(keys[i].key, key) == 0)
			return &keys[i];
	}
	return NULL;
}

/* "[socket]", "[rule vpn]": the current section as the file wrote it. */
static const char *
section_label(struct parse_state *st, char *buf, size_t size)
{
	switch (st->section) {
	case SECTION_SOCKET:
		return "[socket]";
	case SECTION_LIMITS:
		return "[limits]";
	case SECTION_RULE:
		snprintf(buf, size, "[rule %s]", current_rule(st)->name);
		return buf;
	case SECTION_POOL:
		snprintf(buf, size, "[pool %s]", current_pool(st)->name);
		return buf;
	default:
		return "no section";
	}
}

/* Parses value for spec: a list word by word, anything else at once. */
static int
parse_value(struct parse_state *st, const struct key_spec *spec,
    const char *value)
{
	if (spec->list)
		return parse_list(st, spec, value, spec->parse);
	return spec->parse(st, spec, value);
}

/* Gives key its value in the current section; 0 or a negative errno. */
static int
apply_key(struct parse_state *st, const char *key, const char *value)
{
	char label[RULE_NAME_MAX + 8];
	const struct key_spec *spec;
	size_t i;

	/* inih's rule: an indented line after a key continues its value. */
	if (st->indented && st->last_key != NULL) {
		spec = st->last_key;
		if (!spec->list)
			return fail(st, "%s takes one value: \"%s\" is indented, "
			    "so it would continue it", spec->key, value);
		return parse_value(st, spec, value);
	}
	if (st->section == SECTION_NONE)
		return fail(st, "key \"%s\" is outside any section", key);
	if ((spec = find_key(st->section, key)) == NULL)
		return fail(st, "unknown key \"%s\" in %s", key,
		    section_label(st, label, sizeof(label)));
	i = (size_t)(spec - keys);
	if (st->seen_line[i] != 0)
		return fail(st, "%s is given twice in %s (first on line %u)",
		    key, section_label(st, label, sizeof(label)),
		    st->seen_line[i]);
	st->seen_line[i] = st->line;
	st->last_key = spec;
	return parse_value(st, spec, value);
}

/* inih calls this once for each key, and again for each continuation. */
static int
handle_key(void *user, const char *section, const char *key,
    const char *value)
{
	struct parse_state *st = user;

	(void)section;	/* ours follows the headers read_line saw */
	return !st->failed && apply_key(st, key, value) == 0;
}

/* The line where the current section gave key, or where it starts. */
static unsigned
key_line(struct parse_state *st, const char *key, unsigned section_line)
{
	const struct key_spec *spec = find_key(st->section, key);
	unsigned line = spec != NULL ? st->seen_line[spec - keys] : 0;

	return line != 0 ? line : section_line;
}

/* Whether networks a and b share an address. */
static bool
networks_overlap(const struct tb_addr *a, const struct tb_addr *b)
{
	return tb_addr_same_prefix(a, b, a->prefixlen < b->prefixlen ?
	    a->prefixlen : b->prefixlen);
}

/*
 * Completes the pool being read: a prefix, a subnet its family allows
 * and the prefix can hold, and no overlap with a pool defined before.
 */
static int
finish_pool(struct parse_state *st)
{
	struct pool_def *pool = current_pool(st);
	char text[TB_ADDR_TEXT_MAX];
	bool v4 = pool->prefix.family == AF_INET;
	unsigned line;
	size_t i;

	if (pool->prefix.family == 0)
		return fail_at(st, -EINVAL, pool->file, pool->line,
		    "pool %s has no prefix", pool->name);
	tb_addr_format(&pool->prefix, true, text, sizeof(text));
	line = key_line(st, "subnet", pool->line);
	if (pool->subnet == 0)
		pool->subnet = v4 ? 30 : 64;
	if (v4 && pool->subnet != 30 && pool->subnet != 31)
		return fail_at(st, -EINVAL, pool->file, line,
		    "subnet: /%u is not one an IPv4 pool hands out: 30 or 31",
		    pool->subnet);
	if (!v4 && pool->subnet != 64)
		return fail_at(st, -EINVAL, pool->file, line,
		    "subnet: /%u is not one an IPv6 pool hands out: 64",
		    pool->subnet);
	if (pool->prefix.prefixlen == 0)
		return fail_at(st, -EINVAL, pool->file,
		    key_line(st, "prefix", pool->line),
		    "prefix: %s is a whole address family, not a pool", text);
	if (pool->prefix.prefixlen > pool->subnet)
		return fail_at(st, -EINVAL, pool->file,
		    key_line(st, "prefix", pool->line),
		    "prefix: %s is smaller than one /%u subnet", text,
		    pool->subnet);
	for (i = 0; i < st->pool; i++) {
		const struct pool_def *old = &st->cfg.pools[i];
		char other[TB_ADDR_TEXT_MAX];

		if (networks_overlap(&old->prefix, &pool->prefix))
			return fail_at(st, -EINVAL, pool->file,
			    key_line(st, "prefix", pool->line),
			    "prefix: %s of pool %s overlaps %s of pool %s "
			    "(%s:%u)", text, pool->name,
			    tb_addr_format(&old->prefix, true, other,
			    sizeof(other)), old->name, old->file, old->line);
	}
	return 0;
}

/* Completes the section being read: defaults and consistency. */
static int
finish_section(struct parse_state *st)
{
	struct policy_rule *rule;

	if (st->section == SECTION_POOL)
		return finish_pool(st);
	if (st->section != SECTION_RULE)
		return 0;
	rule = current_rule(st);
	if (rule->nusers == 0 && rule->ngroups == 0)
		return fail_at(st, -EINVAL, rule->file, rule->line,
		    "rule %s has neither users nor groups: it would match "
		    "nobody", rule->name);
	if (rule->device_types == 0)
		rule->device_types = 1u << TB_DEVICE_TUN;
	if (rule->nnames == 0 && append_string(&rule->names, &rule->nnames,
	    "*") != 0)
		return fail_nomem(st);
	return 0;
}

/* Adds [rule name] with its defaults, refusing a name already used. */
static int
begin_rule(struct parse_state *st, const char *name)
{
	struct policy_rule rule = {
		.line = st->line,
		.mtu_min = MTU_MIN,
		.mtu_max = MTU_MAX,
		.max_queues = 1,
		.offload = false,
		.namespaces = POLICY_NETNS_NONE,
		.max_devices = 1,
	};
	size_t i;

	if (!valid_section_name(name))
		return fail(st, "rule name \"%s\" must be 1 to %d letters, "
		    "digits, '_', '.' or '-'", name, RULE_NAME_MAX);
	for (i = 0; i < st->cfg.nrules; i++) {
		const struct policy_rule *old = &st->cfg.rules[i];

		if (strcmp(old->name, name) == 0)
			return fail(st, "rule %s is already defined at %s:%u",
			    name, old->file, old->line);
	}
	rule.name = strdup(name);
	rule.file = strdup(st->path);
	if (rule.name == NULL || rule.file == NULL ||
	    append(&st->cfg.rules, &st->cfg.nrules, sizeof(rule), &rule) != 0) {
		rule_free(&rule);
		return fail_nomem(st);
	}
	st->rule = st->cfg.nrules - 1;
	return 0;
}

/* Adds [pool name], refusing a name already used. */
static int
begin_pool(struct parse_state *st, const char *name)
{
	struct pool_def pool = { .line = st->line };
	size_t i;

	if (!valid_section_name(name))
		return fail(st, "pool name \"%s\" must be 1 to %d letters, "
		    "digits, '_', '.' or '-'", name, RULE_NAME_MAX);
	for (i = 0; i < st->cfg.npools; i++) {
		const struct pool_def *old = &st->cfg.pools[i];

		if (strcmp(old->name, name) == 0)
			return fail(st, "pool %s is already defined at %s:%u",
			    name, old->file, old->line);
	}
	pool.name = strdup(name);
	pool.file = strdup(st->path);
	if (pool.name == NULL || pool.file == NULL ||
	    append(&st->cfg.pools, &st->cfg.npools, sizeof(pool),
	    &pool) != 0) {
		pool_def_free(&pool);
		return fail_nomem(st);
	}
	st->pool = st->cfg.npools - 1;
	return 0;
}

/* "[rule  x ]": the name after the word, without its blanks; or NULL. */
static char *
section_argument(char *name, const char *word)
{
	size_t n = strlen(word);
	char *end;

	if (strncmp(name, word, n) != 0 ||
	    (name[n] != '\0' && !isblank((unsigned char)name[n])))
		return NULL;
	for (name += n; isblank((unsigned char)*name); name++)
		continue;
	for (end = name + strlen(name); end > name &&
	    isblank((unsigned char)end[-1]); end--)
		end[-1] = '\0';
	return name;
}

/*
 * Starts the section whose header is at s ("[...]" with maybe a comment
 * after it).  A header without its ']' is left to inih's syntax error.
 */
static int
begin_section(struct parse_state *st, char *s)
{
	char *end = strchr(s, ']'), *rest, *name, *arg;
	int r;

	if (end == NULL)
		return 0;
	*end = '\0';
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		continue;
	if (*rest != '\0' && *rest != ';' && *rest != '#')
		return fail(st, "unexpected text after [%s]: \"%s\"", s + 1,
		    rest);
	if ((r = finish_section(st)) != 0)
		return r;
	memset(st->seen_line, 0, sizeof(st->seen_line));
	st->last_key = NULL;
	name = s + 1;
	if (strcmp(name, "socket") == 0) {
		st->section = SECTION_SOCKET;
	} else if (strcmp(name, "limits") == 0) {
		st->section = SECTION_LIMITS;
	} else if ((arg = section_argument(name, "rule")) != NULL) {
		st->section = SECTION_NONE;
		if ((r = begin_rule(st, arg)) != 0)
			return r;
		st->section = SECTION_RULE;
	} else if ((arg = section_argument(name, "pool")) != NULL) {
		st->section = SECTION_NONE;
		if ((r = begin_pool(st, arg)) != 0)
			return r;
		st->section = SECTION_POOL;
	} else {
		return fail(st, "unknown section [%s]", name);
	}
	return 0;
}

/*
 * Looks at a line before inih does: whether it is indented (a
 * continuation) and whether it opens a section, which inih reports to the
 * handler only with the section's first key.
 */
static int
inspect_line(struct parse_state *st, char *line)
{
	char *header, *s = line;
	int r;

	if (st->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	st->indented = isspace((unsigned char)*s);
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || (st->indented && st->last_key != NULL))
		return 0;
	/* A copy: inih still has to parse the line itself. */
	if ((header = strdup(s)) == NULL)
		return fail_nomem(st);
	r = begin_section(st, header);
	free(header);
	return r;
}

/*
 * Hands inih one line at a time, counting lines for error messages, and
 * refusing lines inih would split or cut: too long, or holding a NUL.
 */
static char *
read_line(char *str, int size, void *arg)
{
	struct parse_state *st = arg;
	int c, len = 0;

	if (st->failed || (c = getc(st->file)) == EOF)
		goto end;
	st->line++;
	for (; c != EOF && c != '\n'; c = getc(st->file)) {
		if (c == '\0') {
			fail(st, "the line holds a NUL byte");
			return NULL;
		}
		/* Room for the line, "\r\n" and the NUL, as inih wants. */
		if (len >= size - 3) {
			fail(st, "the line is longer than %d characters "
			    "(continue a list on indented lines)", size - 3);
			return NULL;
		}
		str[len++] = (char)c;
	}
	str[len] = '\0';
	if (ferror(st->file))
		goto end;
	return inspect_line(st, str) == 0 ? str : NULL;
end:
	if (!st->failed && ferror(st->file))
		fail(st, "reading: %s", strerror(errno));
	return NULL;
}

/* Records path as read; st->path then names it in every error. */
static int
add_file(struct parse_state *st, const char *path)
{
	if (append_string(&st->cfg.files, &st->cfg.nfiles, path) != 0)
		return fail_at(st, -ENOMEM, NULL, 0, "out of memory");
	st->path = st->cfg.files[st->cfg.nfiles - 1];
	return 0;
}

/* Opens path for reading without blocking on a FIFO; a file or -errno. */
static int
open_regular(struct parse_state *st, const char *path, FILE **out)
{
	struct stat sb;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return fail_at(st, r, NULL, 0, "%s: %s", path, strerror(-r));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return fail_at(st, -EINVAL, NULL, 0,
		    "%s: not a regular file", path);
	}
	if ((*out = fdopen(fd, "r")) == NULL) {
		r = -errno;
		close(fd);
		return fail_at(st, r, NULL, 0, "%s: %s", path, strerror(-r));
	}
	return 0;
}

/* Reads one file into st->cfg. */
static int
parse_file(struct parse_state *st, const char *path)
{
	int line, r;

	if ((r = open_regular(st, path, &st->file)) != 0)
		return r;
	if ((r = add_file(st, path)) != 0) {
		fclose(st->file);
		return r;
	}
	st->line = 0;
	st->section = SECTION_NONE;
	st->last_key = NULL;
	line = ini_parse_stream(read_line, st, handle_key, st);
	fclose(st->file);
	st->file = NULL;
	/* inih reports the first bad line: ours, or its syntax error. */
	if (line != 0 && (!st->failed || (unsigned)line < st->err_line)) {
		st->failed = false;
		st->line = line > 0 ? (unsigned)line : st->line;
		return fail(st, "syntax error: expected [SECTION] or "
		    "KEY = VALUE");
	}
	if (st->failed)
		return st->err.code;
	return finish_section(st);
}

/* Drop-ins: "*.conf", not hidden (editors leave ".x.conf.swp"-likes). */
static int
is_dropin_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Byte order, whatever the locale. */
static int
compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Reads dir/name if it is a regular file (or a link to one). */
static int
parse_dropin(struct parse_state *st, const char *dir, const char *name)
{
	struct stat sb;
	char *path;
	int r = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return fail_at(st, -ENOMEM, NULL, 0, "out of memory");
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		r = parse_file(st, path);
	free(path);
	return r;
}

/* Reads the drop-ins of PATH.d in name order; no directory is fine. */
static int
parse_dropins(struct parse_state *st, const char *path)
{
	struct dirent **names;
	char *dir;
	int i, n, r = 0;

	if (asprintf(&dir, "%s.d", path) < 0)
		return fail_at(st, -ENOMEM, NULL, 0, "out of memory");
	if ((n = scandir(dir, &names, is_dropin_name, compare_names)) < 0) {
		r = errno;
		if (r != ENOENT)
			fail_at(st, -r, NULL, 0, "%s: %s", dir, strerror(r));
		free(dir);
		return r == ENOENT ? 0 : -r;
	}
	for (i = 0; i < n; i++) {
		if (r == 0)
			r = parse_dropin(st, dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	free(dir);
	return r;
}

static const struct pool_def *
find_pool(const struct broker_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->npools; i++) {
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	}
	return NULL;
}

/*
 * Checks, once every file is read, that each pool a rule names exists
 * (it may be defined in a later drop-in) and notes its families.
 */
static int
resolve_rule_pools(struct parse_state *st)
{
	const struct pool_def *pool;
	struct policy_rule *rule;
	size_t i, j;

	for (i = 0; i < st->cfg.nrules; i++) {
		rule = &st->cfg.rules[i];
		for (j = 0; j < rule->npools; j++) {
			if ((pool = find_pool(&st->cfg, rule->pools[j])) == NULL)
				return fail_at(st, -EINVAL, rule->file,
				    rule->pools_line, "pools: rule %s names "
				    "pool %s, which no [pool %s] defines",
				    rule->name, rule->pools[j],
				    rule->pools[j]);
			if (pool->prefix.family == AF_INET)
				rule->pool_inet = true;
			else
				rule->pool_inet6 = true;
		}
	}
	return 0;
}

int
conf_load(const char *path, struct broker_config *cfg,
    struct tb_error *err)
{
	struct parse_state st;
	int r;

	memset(&st, 0, sizeof(st));
	conf_init_default(&st.cfg);
	if ((r = parse_file(&st, path)) == 0 &&
	    (r = parse_dropins(&st, path)) == 0)
		r = resolve_rule_pools(&st);
	if (r != 0) {
		if (err != NULL)
			*err = st.err;
		conf_free(&st.cfg);
		return r;
	}
	*cfg = st.cfg;
	return 0;
}

/* ------------------------------------------------------------ printing */

/*
 * Writes item i of a list: the first on the key's line, the rest on
 * continuation lines, so that no line outgrows what inih reads back.
 */
static void
print_item(FILE *out, const char *key, size_t i, const char *item)
{
	if (i == 0)
		fprintf(out, "%s = %s\n", key, item);
	else
		fprintf(out, "\t%s\n", item);
}

static void
print_ids(FILE *out, const char *key, const unsigned *ids, size_t n)
{
	char text[16];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%u", ids[i]);
		print_item(out, key, i, text);
	}
}

/* A comment naming the users and groups the numbers above stand for. */
static void
print_id_names(FILE *out, const struct policy_rule *rule)
{
	const struct passwd *pw;
	const struct group *gr;
	size_t i;

	for (i = 0; i < rule->nusers; i++) {
		if ((pw = getpwuid(rule->users[i])) != NULL)
			fprintf(out, "# user %u is %s\n",
			    (unsigned)rule->users[i], pw->pw_name);
	}
	for (i = 0; i < rule->ngroups; i++) {
		if ((gr = getgrgid(rule->groups[i])) != NULL)
			fprintf(out, "# group %u is %s\n",
			    (unsigned)rule->groups[i], gr->gr_name);
	}
}

static void
print_strings(FILE *out, const char *key, char **v, size_t n)
{
	size_t i;

	if (n == 0) {
		fprintf(out, "# %s: none\n", key);
		return;
	}
	for (i = 0; i < n; i++)
		print_item(out, key, i, v[i]);
}

static void
print_networks(FILE *out, const char *key, const struct tb_addr *v,
    size_t n)
{
	char text[TB_ADDR_TEXT_MAX];
	size_t i;

	if (n == 0) {
		fprintf(out, "# %s: none\n", key);
		return;
	}
	for (i = 0; i < n; i++)
		print_item(out, key, i,
		    tb_addr_format(&v[i], true, text, sizeof(text)));
}

static void
print_rule(FILE *out, const struct policy_rule *rule)
{
	unsigned types = rule->device_types;

	fprintf(out, "\n# defined at %s:%u\n[rule %s]\n", rule->file,
	    rule->line, rule->name);
	print_id_names(out, rule);
	print_ids(out, "users", rule->users, rule->nusers);
	print_ids(out, "groups", rule->groups, rule->ngroups);
	fprintf(out, "device-types = %s%s%s\n",
	    types & (1u << TB_DEVICE_TUN) ? "tun" : "",
	    (types & (1u << TB_DEVICE_TUN)) && (types & (1u << TB_DEVICE_TAP)) ?
	    ", " : "", types & (1u << TB_DEVICE_TAP) ? "tap" : "");
	print_strings(out, "names", rule->names, rule->nnames);
	print_networks(out, "addresses", rule->addresses, rule->naddresses);
	print_networks(out, "routes", rule->routes, rule->nroutes);
	if (rule->mtu_min == rule->mtu_max)
		fprintf(out, "mtu = %u\n", rule->mtu_min);
	else
		fprintf(out, "mtu = %u-%u\n", rule->mtu_min, rule->mtu_max);
	fprintf(out, "queues = %u\n", rule->max_queues);
	fprintf(out, "offload = %s\n", rule->offload ? "yes" : "no");
	print_strings(out, "bridges", rule->bridges, rule->nbridges);
	fprintf(out, "namespaces = %s\n",
	    rule->namespaces == POLICY_NETNS_OWN ? "own" : "none");
	fprintf(out, "max-devices = %u\n", rule->max_devices);
	print_strings(out, "pools", rule->pools, rule->npools);
}

static void
print_pool(FILE *out, const struct pool_def *pool)
{
	char text[TB_ADDR_TEXT_MAX];

	fprintf(out, "\n# defined at %s:%u\n[pool %s]\nprefix = %s\n"
	    "subnet = %u\n", pool->file, pool->line, pool->name,
	    tb_addr_format(&pool->prefix, true, text, sizeof(text)),
	    pool->subnet);
}

void
conf_print(const struct broker_config *cfg, FILE *out)
{
	const struct broker_limits *l = &cfg->limits;
	size_t i;

	fprintf(out, "# The effective configuration of tunbrokerd, read from:\n");
	for (i = 0; i < cfg->nfiles; i++)
		fprintf(out, "#   %s\n", cfg->files[i]);
	if (cfg->nfiles == 0)
		fprintf(out, "#   no file: nobody may request devices\n");
	fprintf(out, "\n[socket]\nmode = %04o\n", (unsigned)cfg->socket_mode);
	if (cfg->has_socket_group)
		fprintf(out, "group = %u\n", (unsigned)cfg->socket_group);
	else
		fprintf(out, "# group: the broker's own\n");
	fprintf(out, "\n[limits]\nconnections = %u\n"
	    "connections-per-user = %u\ndevices-per-user = %u\n"
	    "idle-timeout = %u\nmessage-size = %u\n", l->connections,
	    l->connections_per_user, l->devices_per_user, l->idle_timeout_s,
	    l->message_size);
	if (cfg->nrules == 0)
		fprintf(out, "\n# no rules: nobody may request devices\n");
	for (i = 0; i < cfg->npools; i++)
		print_pool(out, &cfg->pools[i]);
	for (i = 0; i < cfg->nrules; i++)
		print_rule(out, &cfg->rules[i]);
}
