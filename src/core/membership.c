/*
 * Membership core: the configuration value and its changes, the failure
 * detector, and the suspicion collector (include/void/membership.h,
 * docs/membership.md).
 *
 * Everything here is a pure function of its arguments and the caller-owned
 * structs: no clock (now_ns is passed in), no I/O, no allocation, no
 * floating point (the detector's outputs become signed suspicions that
 * other replicas count, and the simulator replays byte-identical traces, so
 * two machines must compute the same thresholds bit for bit). Loops are
 * bounded by VOID_MEMBERSHIP_MEMBERS_MAX or VOID_MEMBERSHIP_CHANGES_MAX.
 *
 * Safety rests on two properties checked here and tested exhaustively for
 * n = 1..64: any two quorums of n voters share at least f+1 voters (so at
 * least one honest), and a removal certificate holds 2f+1 distinct voters
 * of one epoch (so at least f+1 honest voters saw the member silent; f
 * Byzantine voters alone never suffice).
 */
#include "void/membership.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

_Static_assert(VOID_MEMBERSHIP_MEMBERS_MAX <= 64, "voter sets are counted in a uint64_t mask");
_Static_assert(VOID_MEMBERSHIP_ADDR_MAX < 256, "string lengths are encoded in one byte");
_Static_assert(VOID_MEMBERSHIP_LOC_MAX < 256, "string lengths are encoded in one byte");
_Static_assert(VOID_MEMBERSHIP_ENCODED_MAX < 65536, "fits a codec body");

/* ---- quorum arithmetic ------------------------------------------------ */

uint32_t void_membership_f(uint32_t n)
{
    return n == 0 ? 0 : (n - 1) / 3;
}

uint32_t void_membership_quorum(uint32_t n)
{
    if (n == 0) {
        return 0;
    }
    uint32_t f = void_membership_f(n);
    uint32_t q = (n + f + 2) / 2; /* ceil((n + f + 1) / 2) */
    VOID_ASSERT(2 * q >= n + f + 1);
    VOID_ASSERT(q + f <= n);
    return q;
}

uint32_t void_membership_voters(const struct void_membership_config *cfg)
{
    VOID_ASSERT(cfg != NULL);
    VOID_ASSERT(cfg->count <= VOID_MEMBERSHIP_MEMBERS_MAX);
    uint32_t n = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        n += cfg->members[i].role == VOID_MEMBER_VOTER;
    }
    return n;
}

uint32_t void_membership_primary(const struct void_membership_config *cfg, uint64_t view)
{
    uint32_t n = void_membership_voters(cfg);
    VOID_ASSERT(n > 0);
    uint64_t want = view % n;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        if (cfg->members[i].role != VOID_MEMBER_VOTER) {
            continue;
        }
        if (seen == want) {
            return cfg->members[i].id;
        }
        seen++;
    }
    VOID_ASSERT(0 && "voter count changed under us");
    return 0;
}

int void_membership_find(const struct void_membership_config *cfg, uint32_t id)
{
    VOID_ASSERT(cfg != NULL);
    VOID_ASSERT(cfg->count <= VOID_MEMBERSHIP_MEMBERS_MAX);
    for (uint32_t i = 0; i < cfg->count; i++) {
        if (cfg->members[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- validation ------------------------------------------------------- */

/* A string field is valid when it is NUL-terminated within its array, has
 * no byte after the NUL (canonical encoding) and, if required, is not empty. */
static int string_ok(const char *s, size_t cap, int nonempty)
{
    size_t len = strnlen(s, cap);
    if (len == cap) {
        return 0;
    }
    for (size_t i = len; i < cap; i++) {
        if (s[i] != 0) {
            return 0;
        }
    }
    return !nonempty || len > 0;
}

static int member_ok(const struct void_member *m)
{
    if (m->role != VOID_MEMBER_VOTER && m->role != VOID_MEMBER_LEARNER) {
        return 0;
    }
    return string_ok(m->address, sizeof m->address, 1) &&
           string_ok(m->datacenter, sizeof m->datacenter, 0) &&
           string_ok(m->rack, sizeof m->rack, 0) && string_ok(m->host, sizeof m->host, 0);
}

/* 0 if b clashes with no member of cfg other than index skip, else the code. */
static int clash(const struct void_membership_config *cfg, const struct void_member *b, int skip)
{
    for (uint32_t i = 0; i < cfg->count; i++) {
        const struct void_member *a = &cfg->members[i];
        if ((int)i == skip) {
            continue;
        }
        if (memcmp(a->public_key, b->public_key, sizeof a->public_key) == 0) {
            return VOID_EMEMBER_DUP_KEY;
        }
        if (strcmp(a->address, b->address) == 0) {
            return VOID_EMEMBER_DUP_ADDR;
        }
    }
    return 0;
}

int void_membership_config_check(const struct void_membership_config *cfg)
{
    VOID_ASSERT(cfg != NULL);
    if (cfg->count > VOID_MEMBERSHIP_MEMBERS_MAX || cfg->voters_min == 0) {
        return VOID_EBAD_FIELD;
    }
    for (uint32_t i = 0; i < cfg->count; i++) {
        const struct void_member *m = &cfg->members[i];
        if (!member_ok(m) || m->id >= cfg->id_next) {
            return VOID_EBAD_FIELD;
        }
        if (i > 0 && cfg->members[i - 1].id >= m->id) {
            return VOID_EBAD_FIELD;
        }
        int rc = clash(cfg, m, (int)i);
        if (rc != 0) {
            return rc;
        }
    }
    if (void_membership_voters(cfg) < cfg->voters_min) {
        return VOID_EBAD_FIELD;
    }
    return 0;
}

int void_membership_config_init(struct void_membership_config *cfg,
                                const struct void_member *members,
                                uint32_t count,
                                uint16_t voters_min)
{
    VOID_ASSERT(cfg != NULL);
    VOID_ASSERT(members != NULL || count == 0);
    if (count == 0 || count > VOID_MEMBERSHIP_MEMBERS_MAX || voters_min == 0) {
        return VOID_EINVAL;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->epoch = 1;
    cfg->voters_min = voters_min;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t at = cfg->count; /* insertion sort by id: at most 64 members */
        if (members[k].id == UINT32_MAX) {
            return VOID_ERANGE;
        }
        while (at > 0 && cfg->members[at - 1].id > members[k].id) {
            cfg->members[at] = cfg->members[at - 1];
            at--;
        }
        if (at > 0 && cfg->members[at - 1].id == members[k].id) {
            return VOID_EMEMBER_EXISTS;
        }
        cfg->members[at] = members[k];
        cfg->count++;
        cfg->id_next = members[k].id >= cfg->id_next ? members[k].id + 1 : cfg->id_next;
    }
    VOID_ASSERT(cfg->count == count);
    return void_membership_config_check(cfg);
}

/* ---- encoding ---------------------------------------------------------- */

static size_t put_string(uint8_t *p, const char *s)
{
    size_t len = strlen(s);
    VOID_ASSERT(len < 256);
    p[0] = (uint8_t)len;
    memcpy(p + 1, s, len);
    return 1 + len;
}

static size_t member_size(const struct void_member *m)
{
    return 4 + 1 + sizeof m->public_key + 4 + strlen(m->address) + strlen(m->datacenter) +
           strlen(m->rack) + strlen(m->host);
}

int void_membership_config_encode(const struct void_membership_config *cfg,
                                  uint8_t *buf,
                                  size_t cap)
{
    VOID_ASSERT(void_membership_config_check(cfg) == 0);
    VOID_ASSERT(buf != NULL || cap == 0);
    size_t need = VOID_MEMBERSHIP_HEADER_SIZE;
    for (uint32_t i = 0; i < cfg->count; i++) {
        need += member_size(&cfg->members[i]);
    }
    VOID_ASSERT(need <= VOID_MEMBERSHIP_ENCODED_MAX);
    if (need > cap) {
        return VOID_EOVERSIZED;
    }
    buf[0] = VOID_MEMBERSHIP_VERSION;
    void_bytes_put_be64(buf + 1, cfg->epoch);
    void_bytes_put_be32(buf + 9, cfg->id_next);
    void_bytes_put_be16(buf + 13, cfg->voters_min);
    void_bytes_put_be16(buf + 15, cfg->count);
    memcpy(buf + 17, cfg->admin_key, sizeof cfg->admin_key);
    size_t off = VOID_MEMBERSHIP_HEADER_SIZE;
    for (uint32_t i = 0; i < cfg->count; i++) {
        const struct void_member *m = &cfg->members[i];
        void_bytes_put_be32(buf + off, m->id);
        buf[off + 4] = m->role;
        memcpy(buf + off + 5, m->public_key, sizeof m->public_key);
        off += 5 + sizeof m->public_key;
        off += put_string(buf + off, m->address);
        off += put_string(buf + off, m->datacenter);
        off += put_string(buf + off, m->rack);
        off += put_string(buf + off, m->host);
    }
    VOID_ASSERT(off == need);
    return (int)off;
}

/* Reads a length-prefixed string into dst[0..cap) (cap includes the NUL),
 * zero-filling the rest. Returns 0 or a code; never reads past len. */
static int get_string(char *dst, size_t cap, const uint8_t *buf, size_t len, size_t *off)
{
    if (*off >= len) {
        return VOID_ETRUNCATED;
    }
    size_t n = buf[*off];
    if (n >= cap) {
        return VOID_EBAD_FIELD;
    }
    if (len - *off - 1 < n) {
        return VOID_ETRUNCATED;
    }
    memset(dst, 0, cap);
    memcpy(dst, buf + *off + 1, n);
    if (strnlen(dst, cap) != n) {
        return VOID_EBAD_FIELD; /* an embedded NUL would not re-encode to these bytes */
    }
    *off += 1 + n;
    return 0;
}

static int get_member(struct void_member *m, const uint8_t *buf, size_t len, size_t *off)
{
    if (len - *off < 5 + sizeof m->public_key) {
        return VOID_ETRUNCATED;
    }
    memset(m, 0, sizeof *m);
    m->id = void_bytes_get_be32(buf + *off);
    m->role = buf[*off + 4];
    memcpy(m->public_key, buf + *off + 5, sizeof m->public_key);
    *off += 5 + sizeof m->public_key;
    int rc = get_string(m->address, sizeof m->address, buf, len, off);
    if (rc == 0) {
        rc = get_string(m->datacenter, sizeof m->datacenter, buf, len, off);
    }
    if (rc == 0) {
        rc = get_string(m->rack, sizeof m->rack, buf, len, off);
    }
    if (rc == 0) {
        rc = get_string(m->host, sizeof m->host, buf, len, off);
    }
    return rc;
}

int void_membership_config_decode(struct void_membership_config *cfg,
                                  const uint8_t *buf,
                                  size_t len)
{
    VOID_ASSERT(cfg != NULL);
    VOID_ASSERT(buf != NULL || len == 0);
    if (len < VOID_MEMBERSHIP_HEADER_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (buf[0] != VOID_MEMBERSHIP_VERSION) {
        return VOID_EBAD_VERSION;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->epoch = void_bytes_get_be64(buf + 1);
    cfg->id_next = void_bytes_get_be32(buf + 9);
    cfg->voters_min = void_bytes_get_be16(buf + 13);
    uint16_t count = void_bytes_get_be16(buf + 15);
    memcpy(cfg->admin_key, buf + 17, sizeof cfg->admin_key);
    if (count > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EOVERSIZED;
    }
    size_t off = VOID_MEMBERSHIP_HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        int rc = get_member(&cfg->members[i], buf, len, &off);
        if (rc != 0) {
            return rc;
        }
    }
    if (off != len) {
        return VOID_EBAD_LENGTH;
    }
    cfg->count = count;
    int rc = void_membership_config_check(cfg);
    VOID_ASSERT(rc != 0 || void_membership_voters(cfg) >= cfg->voters_min);
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

/* Where an id of a LEAVE/REMOVE/PROMOTE stands in cfg: its index, or the
 * refusal that names why it is not there. */
static int locate(const struct void_membership_config *cfg, uint32_t id, int *index)
{
    *index = void_membership_find(cfg, id);
    if (*index >= 0) {
        return 0;
    }
    return id < cfg->id_next ? VOID_EMEMBER_REMOVED : VOID_EMEMBER_UNKNOWN;
}

static int check_join(const struct void_membership_config *in,
                      const struct void_membership_change *changes,
                      uint32_t k)
{
    const struct void_member *m = &changes[k].member;
    if (m->id != changes[k].id) {
        return VOID_EINVAL;
    }
    if (!member_ok(m) || m->role != VOID_MEMBER_LEARNER) {
        return VOID_EBAD_FIELD;
    }
    if (void_membership_find(in, m->id) >= 0) {
        return VOID_EMEMBER_EXISTS;
    }
    if (m->id < in->id_next) {
        return VOID_EMEMBER_REMOVED;
    }
    if (m->id == UINT32_MAX) {
        return VOID_ERANGE;
    }
    int rc = clash(in, m, -1);
    for (uint32_t j = 0; j < k && rc == 0; j++) {
        const struct void_member *o = &changes[j].member;
        if (changes[j].op != VOID_MEMBERSHIP_JOIN) {
            continue;
        }
        if (memcmp(o->public_key, m->public_key, sizeof m->public_key) == 0) {
            rc = VOID_EMEMBER_DUP_KEY;
        } else if (strcmp(o->address, m->address) == 0) {
            rc = VOID_EMEMBER_DUP_ADDR;
        }
    }
    return rc;
}

/* Validates change k against in and the changes before it; accumulates the
 * net change in members and voters. */
static int check_change(const struct void_membership_config *in,
                        const struct void_membership_change *changes,
                        uint32_t k,
                        int *d_members,
                        int *d_voters)
{
    const struct void_membership_change *c = &changes[k];
    for (uint32_t j = 0; j < k; j++) {
        if (changes[j].id == c->id) {
            return VOID_EMEMBER_BATCH_DUP;
        }
    }
    int index = -1;
    int rc = 0;
    switch ((enum void_membership_op)c->op) {
    case VOID_MEMBERSHIP_JOIN:
        rc = check_join(in, changes, k);
        *d_members += rc == 0;
        return rc;
    case VOID_MEMBERSHIP_LEAVE:
    case VOID_MEMBERSHIP_REMOVE:
        rc = locate(in, c->id, &index);
        if (rc == 0) {
            *d_members -= 1;
            *d_voters -= in->members[index].role == VOID_MEMBER_VOTER;
        }
        return rc;
    case VOID_MEMBERSHIP_PROMOTE:
        rc = locate(in, c->id, &index);
        if (rc == 0 && in->members[index].role == VOID_MEMBER_VOTER) {
            rc = VOID_EMEMBER_ROLE;
        }
        *d_voters += rc == 0;
        return rc;
    }
    return VOID_EINVAL;
}

/* Applies one validated change to cfg, keeping members sorted by id. */
static void apply_one(struct void_membership_config *cfg, const struct void_membership_change *c)
{
    int index = void_membership_find(cfg, c->id);
    if (c->op == VOID_MEMBERSHIP_JOIN) {
        VOID_ASSERT(index < 0);
        VOID_ASSERT(cfg->count < VOID_MEMBERSHIP_MEMBERS_MAX);
        uint32_t at = cfg->count;
        while (at > 0 && cfg->members[at - 1].id > c->id) {
            cfg->members[at] = cfg->members[at - 1];
            at--;
        }
        cfg->members[at] = c->member;
        cfg->count++;
        return;
    }
    VOID_ASSERT(index >= 0);
    if (c->op == VOID_MEMBERSHIP_PROMOTE) {
        cfg->members[index].role = VOID_MEMBER_VOTER;
        return;
    }
    memmove(&cfg->members[index],
            &cfg->members[index + 1],
            (cfg->count - (uint32_t)index - 1) * sizeof cfg->members[0]);
    cfg->count--;
    memset(&cfg->members[cfg->count], 0, sizeof cfg->members[0]);
}

int void_membership_apply(const struct void_membership_config *in,
                          const struct void_membership_change *changes,
                          uint32_t count,
                          struct void_membership_config *out)
{
    VOID_ASSERT(void_membership_config_check(in) == 0);
    VOID_ASSERT(out != NULL);
    if (count == 0 || count > VOID_MEMBERSHIP_CHANGES_MAX || changes == NULL) {
        return VOID_EINVAL;
    }
    if (in->epoch == UINT64_MAX) {
        return VOID_ERANGE;
    }
    int d_members = 0, d_voters = 0;
    uint32_t id_next = in->id_next;
    for (uint32_t k = 0; k < count; k++) {
        int rc = check_change(in, changes, k, &d_members, &d_voters);
        if (rc != 0) {
            return rc;
        }
        if (changes[k].op == VOID_MEMBERSHIP_JOIN && changes[k].id >= id_next) {
            id_next = changes[k].id + 1;
        }
    }
    if ((int)in->count + d_members > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EFULL;
    }
    if ((int)void_membership_voters(in) + d_voters < (int)in->voters_min) {
        return VOID_EMEMBER_TOO_FEW;
    }
    if (out != in) {
        *out = *in;
    }
    for (uint32_t k = 0; k < count; k++) {
        apply_one(out, &changes[k]);
    }
    out->epoch++;
    out->id_next = id_next;
    VOID_ASSERT(void_membership_config_check(out) == 0);
    VOID_ASSERT((int)out->count == (int)in->count + d_members || out == in);
    return 0;
}

int void_membership_check_live(const struct void_membership_config *next,
                               const uint32_t *live_ids,
                               uint32_t live_count)
{
    VOID_ASSERT(next != NULL);
    VOID_ASSERT(live_ids != NULL || live_count == 0);
    uint64_t mask = 0;
    for (uint32_t k = 0; k < live_count; k++) {
        int i = void_membership_find(next, live_ids[k]);
        if (i >= 0 && next->members[i].role == VOID_MEMBER_VOTER) {
            mask |= 1ull << (unsigned)i;
        }
    }
    uint32_t live = (uint32_t)__builtin_popcountll(mask);
    return live >= void_membership_quorum(void_membership_voters(next)) ? 0 : VOID_EMEMBER_QUORUM;
}

/* ---- failure detector --------------------------------------------------- */

int void_fd_init(struct void_fd *fd, const struct void_fd_config *cfg, uint64_t now_ns)
{
    VOID_ASSERT(fd != NULL);
    memset(fd, 0, sizeof *fd);
    struct void_fd_config c = {0};
    if (cfg != NULL) {
        c = *cfg;
    }
    c.interval_ns = c.interval_ns ? c.interval_ns : VOID_FD_INTERVAL_NS_DEF;
    c.tick_ns = c.tick_ns ? c.tick_ns : c.interval_ns / 4;
    c.tick_late_ns = c.tick_late_ns ? c.tick_late_ns : c.interval_ns / 2;
    c.suspect_intervals = c.suspect_intervals ? c.suspect_intervals : VOID_FD_SUSPECT_INTERVALS_DEF;
    c.dead_intervals = c.dead_intervals ? c.dead_intervals : VOID_FD_DEAD_INTERVALS_DEF;
    c.lhm_max = c.lhm_max ? c.lhm_max : VOID_FD_LHM_MAX_DEF;
    c.lhm_max = c.lhm_max == UINT32_MAX ? 0 : c.lhm_max;
    c.lhm_decay_ticks = c.lhm_decay_ticks ? c.lhm_decay_ticks : VOID_FD_LHM_DECAY_TICKS_DEF;
    /* Bounds that keep dead_intervals * interval * (lhm_max + 1) inside 64 bits. */
    if (c.suspect_intervals >= c.dead_intervals || c.dead_intervals > 1000 || c.lhm_max > 64 ||
        c.interval_ns > 60000000000ull || c.tick_ns == 0 || c.tick_ns > c.interval_ns) {
        return VOID_EINVAL;
    }
    fd->cfg = c;
    fd->last_tick_ns = now_ns;
    VOID_ASSERT(void_fd_dead_ns(fd) > void_fd_suspect_ns(fd));
    return 0;
}

uint64_t void_fd_suspect_ns(const struct void_fd *fd)
{
    VOID_ASSERT(fd->lhm <= fd->cfg.lhm_max);
    return (uint64_t)fd->cfg.suspect_intervals * fd->cfg.interval_ns * (fd->lhm + 1u);
}

uint64_t void_fd_dead_ns(const struct void_fd *fd)
{
    VOID_ASSERT(fd->lhm <= fd->cfg.lhm_max);
    return (uint64_t)fd->cfg.dead_intervals * fd->cfg.interval_ns * (fd->lhm + 1u);
}

static int peer_index(const struct void_fd *fd, uint32_t id)
{
    for (uint32_t i = 0; i < fd->count; i++) {
        if (fd->peers[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

int void_fd_set_peers(struct void_fd *fd, const uint32_t *ids, uint32_t count, uint64_t now_ns)
{
    VOID_ASSERT(fd != NULL);
    VOID_ASSERT(ids != NULL || count == 0);
    if (count > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EFULL;
    }
    for (uint32_t k = 0; k < count; k++) {
        for (uint32_t j = 0; j < k; j++) {
            if (ids[j] == ids[k]) {
                return VOID_EINVAL;
            }
        }
    }
    struct void_fd_peer next[VOID_MEMBERSHIP_MEMBERS_MAX];
    for (uint32_t k = 0; k < count; k++) {
        int i = peer_index(fd, ids[k]);
        if (i >= 0) {
            next[k] = fd->peers[i];
        } else {
            memset(&next[k], 0, sizeof next[k]);
            next[k].id = ids[k];
            next[k].state = VOID_FD_ALIVE;
            next[k].last_recv_ns = now_ns; /* a grace period: silence counts from admission */
        }
    }
    memcpy(fd->peers, next, count * sizeof next[0]);
    fd->count = count;
    VOID_ASSERT(fd->count <= VOID_MEMBERSHIP_MEMBERS_MAX);
    return 0;
}

static int hlc_after(struct void_hlc_ts a, struct void_hlc_ts b)
{
    return a.wall_ns > b.wall_ns || (a.wall_ns == b.wall_ns && a.logical > b.logical);
}

int void_fd_heartbeat(struct void_fd *fd, const struct void_fd_heartbeat *hb, uint64_t now_ns)
{
    VOID_ASSERT(fd != NULL);
    VOID_ASSERT(hb != NULL);
    int i = peer_index(fd, hb->sender);
    if (i < 0) {
        fd->count_unknown++;
        return VOID_EUNKNOWN_SENDER;
    }
    struct void_fd_peer *p = &fd->peers[i];
    if (!hlc_after(hb->hlc, p->last_hlc)) {
        p->count_stale++; /* a replayed heartbeat must not keep a dead peer alive */
        return VOID_EAGAIN;
    }
    int revived = p->state != VOID_FD_ALIVE;
    p->state = VOID_FD_ALIVE;
    p->last_hlc = hb->hlc;
    p->last_executed = hb->executed;
    p->last_recv_ns = now_ns > p->last_recv_ns ? now_ns : p->last_recv_ns;
    p->count_heartbeats++;
    return revived;
}

/* Lifeguard's local health: a tick that arrives late means this node is
 * slow (CPU starved, paused), so the silence it observes is partly its own
 * fault. Each late tick raises the multiplier by one plus the whole intervals
 * it lost; a run of on-time ticks lowers it by one. */
static void update_health(struct void_fd *fd, uint64_t now_ns)
{
    uint64_t expected = fd->last_tick_ns + fd->cfg.tick_ns;
    if (now_ns > expected && now_ns - expected > fd->cfg.tick_late_ns) {
        uint64_t raise = 1 + (now_ns - expected) / fd->cfg.interval_ns;
        uint64_t lhm = fd->lhm + raise;
        fd->lhm = (uint32_t)(lhm < fd->cfg.lhm_max ? lhm : fd->cfg.lhm_max);
        fd->ontime_streak = 0;
        fd->count_late_ticks++;
    } else if (fd->lhm > 0 && ++fd->ontime_streak >= fd->cfg.lhm_decay_ticks) {
        fd->lhm--;
        fd->ontime_streak = 0;
    }
    fd->last_tick_ns = now_ns > fd->last_tick_ns ? now_ns : fd->last_tick_ns;
    VOID_ASSERT(fd->lhm <= fd->cfg.lhm_max);
}

uint32_t
void_fd_tick(struct void_fd *fd, uint64_t now_ns, struct void_fd_transition *out, uint32_t cap)
{
    VOID_ASSERT(fd != NULL);
    VOID_ASSERT(out != NULL || cap == 0);
    update_health(fd, now_ns);
    uint64_t suspect_ns = void_fd_suspect_ns(fd);
    uint64_t dead_ns = void_fd_dead_ns(fd);
    uint32_t n = 0;
    for (uint32_t i = 0; i < fd->count && n < cap; i++) {
        struct void_fd_peer *p = &fd->peers[i];
        uint64_t silence = now_ns > p->last_recv_ns ? now_ns - p->last_recv_ns : 0;
        uint8_t to = silence >= dead_ns      ? VOID_FD_DEAD
                     : silence >= suspect_ns ? VOID_FD_SUSPECT
                                             : VOID_FD_ALIVE;
        if (to <= p->state) {
            continue; /* only heartbeats lower a state; a stretched threshold does not */
        }
        out[n].id = p->id;
        out[n].from = p->state;
        out[n].to = to;
        out[n].silence_ns = silence;
        p->state = to;
        n++;
    }
    VOID_ASSERT(n <= cap);
    return n;
}

uint32_t void_fd_alive(const struct void_fd *fd, uint32_t *ids, uint32_t cap)
{
    VOID_ASSERT(fd != NULL);
    VOID_ASSERT(ids != NULL || cap == 0);
    uint32_t n = 0;
    for (uint32_t i = 0; i < fd->count && n < cap; i++) {
        if (fd->peers[i].state == VOID_FD_ALIVE) {
            ids[n++] = fd->peers[i].id;
        }
    }
    return n;
}

int void_fd_state(const struct void_fd *fd, uint32_t id)
{
    int i = peer_index(fd, id);
    return i < 0 ? -1 : fd->peers[i].state;
}

/* ---- removal evidence ----------------------------------------------------- */

void void_suspicion_encode(const struct void_suspicion *s, uint8_t buf[VOID_SUSPICION_ENCODED_SIZE])
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(buf != NULL);
    void_bytes_put_be64(buf, s->epoch);
    void_bytes_put_be32(buf + 8, s->suspect);
    void_bytes_put_be32(buf + 12, s->suspector);
    void_bytes_put_be64(buf + 16, s->hlc.wall_ns);
    void_bytes_put_be32(buf + 24, s->hlc.logical);
}

int void_suspicion_decode(struct void_suspicion *s, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(buf != NULL || len == 0);
    if (len < VOID_SUSPICION_ENCODED_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_SUSPICION_ENCODED_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    s->epoch = void_bytes_get_be64(buf);
    s->suspect = void_bytes_get_be32(buf + 8);
    s->suspector = void_bytes_get_be32(buf + 12);
    s->hlc.wall_ns = void_bytes_get_be64(buf + 16);
    s->hlc.logical = void_bytes_get_be32(buf + 24);
    return 0;
}

void void_suspicion_collector_reset(struct void_suspicion_collector *c,
                                    const struct void_membership_config *cfg,
                                    uint64_t window_ns)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(void_membership_config_check(cfg) == 0);
    memset(c, 0, sizeof *c);
    c->epoch = cfg->epoch;
    c->window_ns = window_ns ? window_ns : VOID_SUSPICION_WINDOW_NS_DEF;
    c->f = void_membership_f(void_membership_voters(cfg));
    c->count = cfg->count;
    c->id_next = cfg->id_next;
    for (uint32_t i = 0; i < cfg->count; i++) {
        c->ids[i] = cfg->members[i].id;
        c->voter[i] = cfg->members[i].role == VOID_MEMBER_VOTER;
    }
}

static int collector_index(const struct void_suspicion_collector *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->ids[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

/* Who may suspect whom, in this epoch, at this time: 0 or the refusal. */
static int admit_suspicion(const struct void_suspicion_collector *c,
                           const struct void_suspicion *s,
                           uint64_t now_ns,
                           int *si,
                           int *ti)
{
    if (s->epoch != c->epoch) {
        return VOID_EMEMBER_EPOCH;
    }
    *si = collector_index(c, s->suspector);
    if (*si < 0 || !c->voter[*si]) {
        return VOID_EMEMBER_NOT_VOTER;
    }
    *ti = collector_index(c, s->suspect);
    if (*ti < 0) {
        return s->suspect < c->id_next ? VOID_EMEMBER_REMOVED : VOID_EMEMBER_UNKNOWN;
    }
    if (*si == *ti || s->hlc.wall_ns == 0) {
        return VOID_EINVAL;
    }
    if (now_ns > c->window_ns && s->hlc.wall_ns < now_ns - c->window_ns) {
        return VOID_EMEMBER_STALE;
    }
    if (s->hlc.wall_ns > now_ns + VOID_HLC_MAX_OFFSET_NS_DEF) {
        return VOID_EHLC_AHEAD; /* a future stamp would stay inside every window */
    }
    struct void_hlc_ts held = c->seen[*ti][*si];
    if (held.wall_ns != 0 && held.wall_ns + c->window_ns >= now_ns) {
        return VOID_EMEMBER_DUP_SUSPICION;
    }
    return 0;
}

/* Fills cert with the suspicions of suspect index ti whose walls lie within
 * the window below the newest one; returns how many. */
static uint32_t
gather(const struct void_suspicion_collector *c, uint32_t ti, struct void_suspicion_cert *cert)
{
    uint64_t newest = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        newest = c->seen[ti][i].wall_ns > newest ? c->seen[ti][i].wall_ns : newest;
    }
    VOID_ASSERT(newest > 0);
    uint64_t oldest = newest > c->window_ns ? newest - c->window_ns : 1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        struct void_hlc_ts h = c->seen[ti][i];
        if (h.wall_ns == 0 || h.wall_ns < oldest) {
            continue;
        }
        VOID_ASSERT(c->voter[i]);
        cert->items[n].epoch = c->epoch;
        cert->items[n].suspect = c->ids[ti];
        cert->items[n].suspector = c->ids[i];
        cert->items[n].hlc = h;
        n++;
    }
    cert->epoch = c->epoch;
    cert->suspect = c->ids[ti];
    cert->count = n;
    return n;
}

int void_suspicion_collector_add(struct void_suspicion_collector *c,
                                 const struct void_suspicion *s,
                                 uint64_t now_ns,
                                 struct void_suspicion_cert *cert)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(s != NULL && cert != NULL);
    int si = -1, ti = -1;
    int rc = admit_suspicion(c, s, now_ns, &si, &ti);
    if (rc != 0) {
        c->count_refused++;
        return rc;
    }
    c->seen[ti][si] = s->hlc;
    c->count_accepted++;
    uint32_t n = gather(c, (uint32_t)ti, cert);
    VOID_ASSERT(n >= 1);
    return n >= 2 * c->f + 1 ? 1 : 0;
}

static int cert_item_ok(const struct void_membership_config *cfg,
                        const struct void_suspicion_cert *cert,
                        uint32_t k)
{
    const struct void_suspicion *s = &cert->items[k];
    if (s->epoch != cert->epoch || s->suspect != cert->suspect || s->suspector == s->suspect) {
        return VOID_EINVAL;
    }
    if (k > 0 && cert->items[k - 1].suspector == s->suspector) {
        return VOID_EMEMBER_DUP_SUSPICION; /* one voter counted twice */
    }
    if (k > 0 && cert->items[k - 1].suspector > s->suspector) {
        return VOID_EINVAL; /* ascending order makes "distinct" a local check */
    }
    int i = void_membership_find(cfg, s->suspector);
    if (i < 0 || cfg->members[i].role != VOID_MEMBER_VOTER) {
        return VOID_EMEMBER_NOT_VOTER;
    }
    return 0;
}

int void_suspicion_cert_check(const struct void_membership_config *cfg,
                              const struct void_suspicion_cert *cert,
                              uint64_t window_ns)
{
    VOID_ASSERT(void_membership_config_check(cfg) == 0);
    VOID_ASSERT(cert != NULL);
    if (cert->epoch != cfg->epoch) {
        return VOID_EMEMBER_EPOCH;
    }
    int index = -1;
    int rc = locate(cfg, cert->suspect, &index);
    if (rc != 0) {
        return rc;
    }
    if (cert->count > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EINVAL;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t k = 0; k < cert->count; k++) {
        rc = cert_item_ok(cfg, cert, k);
        if (rc != 0) {
            return rc;
        }
        uint64_t w = cert->items[k].hlc.wall_ns;
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    if (cert->count > 0 && hi - lo > window_ns) {
        return VOID_EMEMBER_STALE;
    }
    uint32_t f = void_membership_f(void_membership_voters(cfg));
    return cert->count >= 2 * f + 1 ? 0 : VOID_EMEMBER_QUORUM;
}

/* ---- heartbeats --------------------------------------------------------- */

void void_heartbeat_body_encode(uint64_t epoch,
                                uint64_t executed,
                                uint8_t out[VOID_HEARTBEAT_BODY_SIZE])
{
    VOID_ASSERT(out != NULL);
    void_bytes_put_be64(out, epoch);
    void_bytes_put_be64(out + 8, executed);
}

int void_heartbeat_body_decode(const uint8_t *body, size_t len, uint64_t *epoch, uint64_t *executed)
{
    VOID_ASSERT(epoch != NULL && executed != NULL);
    if (body == NULL || len < VOID_HEARTBEAT_BODY_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_HEARTBEAT_BODY_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    *epoch = void_bytes_get_be64(body);
    *executed = void_bytes_get_be64(body + 8);
    return 0;
}

size_t void_heartbeat_body_encode_addr(uint64_t epoch,
                                       uint64_t executed,
                                       const char *http,
                                       uint8_t out[VOID_HEARTBEAT_BODY_MAX])
{
    VOID_ASSERT(out != NULL);
    void_heartbeat_body_encode(epoch, executed, out);
    size_t n = http != NULL ? strlen(http) : 0;
    if (n == 0 || n > VOID_HEARTBEAT_ADDR_MAX) {
        return VOID_HEARTBEAT_BODY_SIZE;
    }
    out[VOID_HEARTBEAT_BODY_SIZE] = (uint8_t)n;
    memcpy(out + VOID_HEARTBEAT_BODY_SIZE + 1, http, n);
    VOID_ASSERT(VOID_HEARTBEAT_BODY_SIZE + 1 + n <= VOID_HEARTBEAT_BODY_MAX);
    return VOID_HEARTBEAT_BODY_SIZE + 1 + n;
}

int void_heartbeat_body_decode_addr(const uint8_t *body,
                                    size_t len,
                                    uint64_t *epoch,
                                    uint64_t *executed,
                                    char http[VOID_HEARTBEAT_ADDR_MAX + 1])
{
    VOID_ASSERT(http != NULL);
    http[0] = '\0';
    if (body == NULL || len < VOID_HEARTBEAT_BODY_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_HEARTBEAT_BODY_SIZE) {
        size_t n = body[VOID_HEARTBEAT_BODY_SIZE];
        if (len != VOID_HEARTBEAT_BODY_SIZE + 1 + n) {
            return len < VOID_HEARTBEAT_BODY_SIZE + 1 + n ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
        }
        if (n == 0 || n > VOID_HEARTBEAT_ADDR_MAX ||
            memchr(body + VOID_HEARTBEAT_BODY_SIZE + 1, 0, n) != NULL) {
            return VOID_EBAD_FIELD;
        }
    }
    int rc = void_heartbeat_body_decode(body, VOID_HEARTBEAT_BODY_SIZE, epoch, executed);
    if (rc == 0 && len > VOID_HEARTBEAT_BODY_SIZE) {
        memcpy(http, body + VOID_HEARTBEAT_BODY_SIZE + 1, len - VOID_HEARTBEAT_BODY_SIZE - 1);
        http[len - VOID_HEARTBEAT_BODY_SIZE - 1] = '\0';
    }
    return rc;
}

/* ---- suspicion gossip ----------------------------------------------------- */

int void_suspicion_gossip_encode(const struct void_suspicion_signed *items,
                                 uint32_t count,
                                 uint8_t *buf,
                                 size_t cap)
{
    VOID_ASSERT(items != NULL || count == 0);
    VOID_ASSERT(buf != NULL || cap == 0);
    if (count == 0 || count > VOID_SUSPICION_GOSSIP_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 1 + (size_t)count * VOID_SUSPICION_SIGNED_SIZE;
    if (cap < need) {
        return VOID_EFULL;
    }
    buf[0] = (uint8_t)count;
    uint8_t *p = buf + 1;
    for (uint32_t i = 0; i < count; i++, p += VOID_SUSPICION_SIGNED_SIZE) {
        void_suspicion_encode(&items[i].s, p);
        memcpy(p + VOID_SUSPICION_ENCODED_SIZE, items[i].sig, 64);
    }
    return (int)need;
}

int void_suspicion_gossip_decode(const uint8_t *body,
                                 size_t len,
                                 struct void_suspicion_signed items[VOID_SUSPICION_GOSSIP_MAX],
                                 uint32_t *count)
{
    VOID_ASSERT(items != NULL && count != NULL);
    VOID_ASSERT(body != NULL || len == 0);
    if (len < 1) {
        return VOID_ETRUNCATED;
    }
    uint32_t n = body[0];
    if (n == 0 || n > VOID_SUSPICION_GOSSIP_MAX) {
        return VOID_EBAD_FIELD;
    }
    size_t need = 1 + (size_t)n * VOID_SUSPICION_SIGNED_SIZE;
    if (len < need) {
        return VOID_ETRUNCATED;
    }
    if (len > need) {
        return VOID_EBAD_LENGTH;
    }
    const uint8_t *p = body + 1;
    for (uint32_t i = 0; i < n; i++, p += VOID_SUSPICION_SIGNED_SIZE) {
        int rc = void_suspicion_decode(&items[i].s, p, VOID_SUSPICION_ENCODED_SIZE);
        VOID_ASSERT(rc == 0); /* the length was checked above */
        memcpy(items[i].sig, p + VOID_SUSPICION_ENCODED_SIZE, 64);
    }
    *count = n;
    return 0;
}

uint32_t void_suspicion_submit_rank(const struct void_membership_config *cfg,
                                    const uint32_t *alive,
                                    uint32_t k,
                                    uint32_t self,
                                    uint32_t suspect)
{
    VOID_ASSERT(cfg != NULL);
    VOID_ASSERT(alive != NULL || k == 0);
    uint32_t rank = 0;
    int found = 0;
    for (uint32_t i = 0; i < cfg->count && !found; i++) {
        const struct void_member *m = &cfg->members[i];
        if (m->role != VOID_MEMBER_VOTER || m->id == suspect) {
            continue;
        }
        if (m->id == self) {
            found = 1;
            break;
        }
        for (uint32_t j = 0; j < k; j++) {
            if (alive[j] == m->id) {
                rank++; /* a live voter below self goes first */
                break;
            }
        }
    }
    return found ? rank : UINT32_MAX;
}
