/* cmd_reconcile.h - `vem reconcile`: apply in a loop (timer, GitOps). */
#ifndef VEM_CMD_RECONCILE_H
#define VEM_CMD_RECONCILE_H

int cmd_reconcile(int argc, char **argv);

#endif
