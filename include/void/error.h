/*
 * Error codes of libvoid.
 *
 * Every function that can fail returns an int: 0 on success, a negative
 * VOID_E* code on failure (or a non-negative count where its header says so).
 * All codes live in the one X-macro below, which generates both the enum and
 * the strings behind void_strerror() and void_err_name(), so names and
 * messages cannot drift apart.
 *
 * Numeric values are assigned by position and may change between versions:
 * never persist or send them; persist the name if you must.
 *
 * Add a code at the end of its module's block. Keep messages short, lower
 * case, without a trailing period.
 */
#ifndef VOID_ERROR_H
#define VOID_ERROR_H

#define VOID_ERRNO_MAP(X)                                                                          \
    /* generic */                                                                                  \
    X(INVAL, "invalid argument")                                                                   \
    X(NOMEM, "out of memory")                                                                      \
    X(RANGE, "value out of range")                                                                 \
    X(FULL, "capacity exhausted")                                                                  \
    X(NOTFOUND, "not found")                                                                       \
    X(EXIST, "already exists")                                                                     \
    X(IO, "input/output error")                                                                    \
    X(NOSPC, "no space left on device")                                                            \
    X(PERM, "permission denied")                                                                   \
    X(BUSY, "resource busy")                                                                       \
    X(TIMEOUT, "timed out")                                                                        \
    X(AGAIN, "try again")                                                                          \
    X(CORRUPT, "corrupted data")                                                                   \
    X(PARSE, "cannot parse input")                                                                 \
    X(INTERNAL, "internal error")                                                                  \
    /* hlc */                                                                                      \
    X(HLC_AHEAD, "remote clock too far ahead (max offset exceeded)")                               \
    X(HLC_OVERFLOW, "logical clock counter exhausted")                                             \
    /* crypto */                                                                                   \
    X(KEY_PERM, "private key file is readable by group or others")                                 \
    X(KEY_FORMAT, "malformed key file")                                                            \
    X(BAD_SIG, "signature does not verify")                                                        \
    X(UNKNOWN_SENDER, "unknown sender")                                                            \
    /* codec */                                                                                    \
    X(TRUNCATED, "message truncated")                                                              \
    X(OVERSIZED, "message too large")                                                              \
    X(BAD_MAGIC, "bad magic number")                                                               \
    X(BAD_VERSION, "unsupported version")                                                          \
    X(BAD_TYPE, "unknown message type")                                                            \
    X(BAD_LENGTH, "length field does not match the data")                                          \
    X(BAD_FIELD, "field has an invalid value")                                                     \
    /* ntp / timekeeper */                                                                         \
    X(NTP_TRUNCATED, "ntp packet shorter than 48 bytes")                                           \
    X(NTP_MODE, "ntp packet is not a server-mode reply")                                           \
    X(NTP_VERSION, "unsupported ntp version")                                                      \
    X(NTP_ORIGIN, "ntp origin timestamp does not match the request (bogus or replayed)")           \
    X(NTP_KOD_RATE, "ntp kiss-o'-death RATE: server asks to poll less often")                      \
    X(NTP_KOD_DENY, "ntp kiss-o'-death DENY: server refuses access")                               \
    X(NTP_KOD_RSTR, "ntp kiss-o'-death RSTR: server restricts access")                             \
    X(NTP_KOD, "ntp kiss-o'-death with another code")                                              \
    X(NTP_UNSYNC, "ntp server unsynchronised (stratum 16)")                                        \
    X(NTP_LEAP_ALARM, "ntp server leap indicator is alarm (clock not synchronised)")               \
    X(NTP_BAD_TIMESTAMP, "ntp reply has a zero or absurd timestamp")                               \
    X(NTP_BAD_DELAY, "ntp round-trip delay is negative or absurd")                                 \
    X(NTP_ROOT_DISTANCE, "ntp server root distance too large")                                     \
    X(NTP_RESOLVE, "cannot resolve ntp server address")                                            \
    X(NTP_NO_SOURCES, "no ntp server answered")                                                    \
    /* cas */                                                                                      \
    X(CAS_NOT_STORE, "directory is not a void cas store")                                          \
    X(CAS_HASH_MISMATCH, "block content does not match its hash")                                  \
    X(CAS_MISSING, "block not in the store")                                                       \
    X(CAS_BAD_RECORD, "malformed block record in the store")                                       \
    /* pbft */                                                                                     \
    /* io / daemon */                                                                              \
    /* kvs (the replicated state's store) */                                                       \
    X(KVS_TOO_OLD, "read as of a time before the retained history")                                \
    /* stores: damage found on disk, a store held by another process */                            \
    X(DAMAGED, "store damaged: a file is truncated or holds bytes that are not ours")              \
    X(CAS_DAMAGED,                                                                                 \
      "cas store damaged (its LMDB file is unreadable): move it aside, then refetch the blocks "   \
      "from peers or rebuild it from the sources; `voidctl store fsck` checks a store that opens") \
    X(CAS_LOCKED, "cas store is in use by another process")                                        \
    X(PRESSURE, "out of file descriptors")                                                         \
    /* membership */                                                                               \
    X(MEMBER_UNKNOWN, "no such member in the configuration")                                       \
    X(MEMBER_REMOVED, "member was removed; a removed id is never readmitted")                      \
    X(MEMBER_EXISTS, "member id already in the configuration")                                     \
    X(MEMBER_DUP_KEY, "public key already belongs to another member")                              \
    X(MEMBER_DUP_ADDR, "address already belongs to another member")                                \
    X(MEMBER_TOO_FEW, "change would leave fewer voters than the configured minimum")               \
    X(MEMBER_BATCH_DUP, "two changes of the same member in one batch")                             \
    X(MEMBER_ROLE, "member already has that role")                                                 \
    X(MEMBER_QUORUM, "quorum not reachable: too few live voters or suspicions")                    \
    X(MEMBER_EPOCH, "wrong configuration epoch")                                                   \
    X(MEMBER_NOT_VOTER, "sender is not a voter of the current configuration")                      \
    X(MEMBER_STALE, "suspicion outside the collection window")                                     \
    X(MEMBER_DUP_SUSPICION, "this member already suspects that one in this window")               \
    X(MEMBER_PENDING, "a configuration change is still taking effect")                           \
    X(MEMBER_BEHIND, "the learner is more than one checkpoint behind the cluster")

enum void__err_ord {
#define VOID__X(name, msg) VOID__ERR_ORD_##name,
    VOID_ERRNO_MAP(VOID__X)
#undef VOID__X
        VOID__ERR_ORD_COUNT
};

enum void_err {
    VOID_OK = 0,
#define VOID__X(name, msg) VOID_E##name = -1 - (int)VOID__ERR_ORD_##name,
    VOID_ERRNO_MAP(VOID__X)
#undef VOID__X
};

/* Human-readable message for a code returned by libvoid. Never returns NULL;
 * unknown codes give "unknown error". Cannot fail. */
const char *void_strerror(int err);

/* Symbolic name of a code ("VOID_EINVAL"), for logs and JSON. Never NULL.
 * Cannot fail. */
const char *void_err_name(int err);

#endif
