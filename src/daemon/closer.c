#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "closer.h"

struct closer {
	int queue[2];		/* a pipe of descriptor numbers */
	pthread_t thread;
};

/* Closes every descriptor that comes through the pipe, until its end. */
static void *
closer_run(void *arg)
{
	struct closer *c = arg;
	int fd;

	for (;;) {
		ssize_t n = read(c->queue[0], &fd, sizeof(fd));

		if (n == sizeof(fd))
			close(fd);
		else if (n == 0 || (n < 0 && errno != EINTR))
			return NULL;
	}
}

int
closer_start(struct closer **out)
{
	struct closer *c;
	sigset_t all, old;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	if (pipe2(c->queue, O_CLOEXEC) < 0) {
		r = -errno;
		free(c);
		return r;
	}
	/* The loop must never wait on the pipe: full means close inline. */
	if (fcntl(c->queue[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&c->thread, NULL, closer_run, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	close(c->queue[0]);
	close(c->queue[1]);
	free(c);
	return r;
}

void
closer_close(struct closer *c, int fd)
{
	/* A write of an int to a pipe is atomic (PIPE_BUF). */
	if (c == NULL || write(c->queue[1], &fd, sizeof(fd)) != sizeof(fd))
		close(fd);
}

void
closer_stop(struct closer *c)
{
	if (c == NULL)
		return;
	close(c->queue[1]);
	pthread_join(c->thread, NULL);
	close(c->queue[0]);
	free(c);
}
