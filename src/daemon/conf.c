#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"

/* What the parser carries from one key to the next. */
struct parse_state {
	struct broker_config cfg;
	FILE *file;
	int line;		/* the line inih is parsing now */
	struct tb_error err;	/* the first error the handler found */
	int err_line;		/* and its line; 0 for none */
};

void
conf_init_default(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_mode = 0660;
}

void
conf_free(struct broker_config *cfg)
{
	free(cfg->users);
	free(cfg->groups);
	memset(cfg, 0, sizeof(*cfg));
}

/* Parses a decimal id; false unless all of s is one. */
static bool
parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out < (unsigned long)(id_t)-1;
}

static int
resolve_user(const char *name, uid_t *out)
{
	struct passwd *pw;
	unsigned long id;

	if (parse_id(name, &id)) {
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

	if (parse_id(name, &id)) {
		*out = (gid_t)id;
		return 0;
	}
	if ((gr = getgrnam(name)) == NULL)
		return -ENOENT;
	*out = gr->gr_gid;
	return 0;
}

/* Appends every user (or group) named in the comma/space list value. */
static int
parse_id_list(struct parse_state *st, const char *key, const char *value,
    bool users)
{
	char *copy, *word, *save = NULL;
	size_t *count = users ? &st->cfg.nusers : &st->cfg.ngroups;
	unsigned *ids;
	int r = 0;

	if ((copy = strdup(value)) == NULL)
		return tb_error_set(&st->err, -ENOMEM, "out of memory");
	for (word = strtok_r(copy, ", \t", &save); word != NULL;
	    word = strtok_r(NULL, ", \t", &save)) {
		id_t id;

		ids = realloc(users ? (void *)st->cfg.users :
		    (void *)st->cfg.groups, (*count + 1) * sizeof(id_t));
		if (ids == NULL) {
			r = tb_error_set(&st->err, -ENOMEM, "out of memory");
			break;
		}
		if (users)
			st->cfg.users = ids;
		else
			st->cfg.groups = ids;
		r = users ? resolve_user(word, &id) : resolve_group(word, &id);
		if (r != 0) {
			r = tb_error_set(&st->err, -EINVAL, "%s: no such %s \"%s\"",
			    key, users ? "user" : "group", word);
			break;
		}
		ids[(*count)++] = id;
	}
	free(copy);
	return r;
}

static int
parse_mode(struct parse_state *st, const char *value)
{
	unsigned long mode;
	char *end;

	errno = 0;
	mode = strtoul(value, &end, 8);
	if (errno != 0 || end == value || *end != '\0' || mode > 0777)
		return tb_error_set(&st->err, -EINVAL,
		    "mode: \"%s\" is not an octal mode from 0 to 0777", value);
	st->cfg.socket_mode = (mode_t)mode;
	return 0;
}

/* inih calls this once for each key; a 0 return marks the line bad. */
static int
handle_key(void *user, const char *section, const char *key,
    const char *value)
{
	struct parse_state *st = user;
	int r;

	if (st->err_line != 0)
		return 1;	/* report only the first error */
	if (strcmp(section, "socket") == 0 && strcmp(key, "mode") == 0) {
		r = parse_mode(st, value);
	} else if (strcmp(section, "socket") == 0 &&
	    strcmp(key, "group") == 0) {
		r = resolve_group(value, &st->cfg.socket_group);
		if (r != 0)
			r = tb_error_set(&st->err, -EINVAL,
			    "group: no such group \"%s\"", value);
		st->cfg.has_socket_group = r == 0;
	} else if (strcmp(section, "access") == 0 &&
	    strcmp(key, "users") == 0) {
		r = parse_id_list(st, key, value, true);
	} else if (strcmp(section, "access") == 0 &&
	    strcmp(key, "groups") == 0) {
		r = parse_id_list(st, key, value, false);
	} else if (section[0] == '\0') {
		r = tb_error_set(&st->err, -EINVAL,
		    "key \"%s\" is outside any section", key);
	} else if (strcmp(section, "socket") != 0 &&
	    strcmp(section, "access") != 0) {
		r = tb_error_set(&st->err, -EINVAL, "unknown section [%s]",
		    section);
	} else {
		r = tb_error_set(&st->err, -EINVAL,
		    "unknown key \"%s\" in [%s]", key, section);
	}
	if (r != 0)
		st->err_line = st->line;
	return r == 0;
}

/* Hands inih one line at a time, counting lines for error messages. */
static char *
read_line(char *str, int size, void *arg)
{
	struct parse_state *st = arg;

	if (fgets(str, size, st->file) == NULL)
		return NULL;
	st->line++;
	return str;
}

int
conf_load(const char *path, struct broker_config *cfg,
    struct tb_error *err)
{
	struct parse_state st = { .line = 0 };
	int line;

	if ((st.file = fopen(path, "re")) == NULL) {
		int r = -errno;

		return tb_error_set(err, r, "%s: %s", path, strerror(-r));
	}
	conf_init_default(&st.cfg);
	line = ini_parse_stream(read_line, &st, handle_key, &st);
	fclose(st.file);
	if (line != 0) {
		/* inih reports the first bad line: ours, or its syntax error. */
		if (st.err_line != line)
			tb_error_set(&st.err, -EINVAL, "syntax error");
		tb_error_set(err, -EINVAL, "%s:%d: %s", path, line,
		    st.err.text);
		conf_free(&st.cfg);
		return -EINVAL;
	}
	*cfg = st.cfg;
	return 0;
}
