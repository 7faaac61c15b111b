/*
 * The devices this broker created and whom they belong to, for quotas.
 *
 * For now a device counts while an interface with its index and name
 * exists; the lifecycle issue feeds this table from rtnetlink events
 * instead.
 */
#ifndef TUNBROKER_LEASE_H
#define TUNBROKER_LEASE_H

#include <sys/types.h>

#include "protocol.h"

struct lease_table;

int lease_table_new(struct lease_table **out);
void lease_table_free(struct lease_table *t);

/* Records a device made for uid; 0 or -ENOMEM. */
int lease_table_add(struct lease_table *t, uid_t uid, unsigned ifindex,
    const char *name);

/* The live devices of uid, forgetting those the kernel no longer has. */
unsigned lease_table_count_uid(struct lease_table *t, uid_t uid);

/* Every live device, after the same pruning. */
unsigned lease_table_count(struct lease_table *t);

#endif /* TUNBROKER_LEASE_H */
