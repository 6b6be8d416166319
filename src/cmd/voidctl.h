/*
 * Shared declarations of the voidctl command groups. Each group is one
 * function run(argc, argv) where argv[0] is the group name; it returns the
 * process exit status (0 ok, 1 operation failed, 2 usage error).
 */
#ifndef VOID_CMD_VOIDCTL_H
#define VOID_CMD_VOIDCTL_H

#define VOIDCTL_VERSION "0.1.0"

struct voidctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* `voidctl cas ...`: the local content-addressable store (src/cmd/voidctl_cas.c). */
int voidctl_cas(int argc, char **argv);

/* `voidctl time ...`: NTP sources query (src/cmd/voidctl_time.c). */
int voidctl_time(int argc, char **argv);

#endif
