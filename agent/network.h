/* agent/network.h: the guest's interfaces and routes over rtnetlink, in the
 * agent API's types (Kata's types.Interface / types.Route). */
#ifndef HAKO_AGENT_NETWORK_H
#define HAKO_AGENT_NETWORK_H

#include "lib/err.h"
#include "proto/agent.pb-c.h"
#include "proto/types.pb-c.h"

int network_list_interfaces(Grpc__Interfaces **out, struct err *e);
int network_list_routes(Grpc__Routes **out, struct err *e);
/* Find the link by hwAddr (else by name), rename it to name, set the MTU,
 * replace its addresses, bring it up; *out is the result as listed. */
int network_update_interface(const Types__Interface *want, Types__Interface **out, struct err *e);
/* Add (or replace) each route; routes may be NULL (nothing to do). */
int network_update_routes(const Grpc__Routes *routes, struct err *e);

void network_free_interfaces(Grpc__Interfaces *l);
void network_free_interface(Types__Interface *i);
void network_free_routes(Grpc__Routes *l);

#endif
