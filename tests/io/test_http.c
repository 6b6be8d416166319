/*
 * Tests of the HTTP server (src/io/http.c) with real sockets on loopback: the
 * methods it takes, its connection limits, and the rate limit on
 * libmicrohttpd's error log (issue 16: "FOO /status" was answered 200, and a
 * connection flood made libmicrohttpd log a line per refused connection).
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include "void/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint16_t port;
static int handled; /* requests that reached the handler */

static int handler(void *ctx,
                   const char *method,
                   const char *path,
                   void_http_arg_fn arg,
                   void *req,
                   char *out,
                   size_t cap,
                   size_t *len,
                   const char **content_type)
{
    (void)ctx;
    (void)method;
    (void)path;
    (void)arg;
    (void)req;
    (void)content_type;
    handled++;
    int n = snprintf(out, cap, "ok\n");
    *len = (size_t)n;
    return 200;
}

/* A free port in 20000..29999, picked from the pid on. */
static uint16_t pick_port(void)
{
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        uint16_t p = (uint16_t)(20000 + ((unsigned)getpid() * 7u + attempt * 13u) % 10000u);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0) {
            close(fd);
        }
        if (ok) {
            return p;
        }
    }
    return 0;
}

static void start(struct void_http *h, uint32_t conn_max, uint32_t per_ip_max)
{
    port = pick_port();
    assert_true(port != 0);
    char err[256] = "";
    assert_int_equal(
        void_http_init(h, "127.0.0.1", port, conn_max, per_ip_max, handler, NULL, err, sizeof(err)),
        0);
    handled = 0;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Reads from fd until EOF, cap bytes or ms pass; returns the bytes read, or
 * -1 when the connection was reset. */
static ssize_t read_for(int fd, char *buf, size_t cap, int ms)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < cap && poll(&p, 1, ms) == 1) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

/* Whether the server closed fd (EOF or reset) within ms. */
static int closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1) {
        return 0;
    }
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void request(int fd, const char *text)
{
    assert_int_equal(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
}

/* Setup: a server. Action: FOO /status, POST /fault with a body, then GET
 * /status. Expected: the first two are answered 405 with "Allow: GET, HEAD"
 * without reaching the handler; GET is answered 200 by the handler. */
static void test_http_answers_405_with_allow_to_methods_it_does_not_take(void **state)
{
    (void)state;
    struct void_http h;
    start(&h, 0, 0);
    char buf[2048];
    int fd = dial();
    request(fd, "FOO /status HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(read_for(fd, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 405"));
    assert_non_null(strstr(buf, "Allow: GET, HEAD"));
    close(fd);
    fd = dial();
    request(fd, "POST /fault?isolate=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_true(read_for(fd, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 405"));
    close(fd);
    assert_int_equal(handled, 0);
    fd = dial();
    request(fd, "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_true(read_for(fd, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_int_equal(handled, 1);
    close(fd);
    void_http_fini(&h);
}

/* Setup: a server with POST opened at /fault only. Action: POST /fault,
 * then POST /status. Expected: the first reaches the handler (200), the
 * second is answered 405 without reaching it. */
static void test_http_takes_post_only_where_opened(void **state)
{
    (void)state;
    struct void_http h;
    start(&h, 0, 0);
    void_http_allow_post(&h, "/fault");
    handled = 0;
    char buf[2048];
    int fd = dial();
    request(fd, "POST /fault?isolate=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_true(read_for(fd, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(fd);
    assert_int_equal(handled, 1);
    fd = dial();
    request(fd, "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_true(read_for(fd, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 405"));
    close(fd);
    assert_int_equal(handled, 1);
    void_http_fini(&h);
}

/* Setup: a server taking 4 connections from one address, stderr sent to a
 * file. Action: hold 4 idle connections, then open 60 more. Expected: each
 * of the 60 is closed by the server at once; libmicrohttpd reports each
 * refusal, but the log gets at most VOID_HTTP_LOG_BURST of those lines (the
 * rest are counted, to be summarised in the next window). */
static void test_http_limits_connections_per_address_with_a_bounded_log(void **state)
{
    (void)state;
    char path[] = "/tmp/void-test-http-XXXXXX";
    int logfd = mkstemp(path);
    assert_true(logfd >= 0);
    int saved = dup(2);
    assert_int_equal(dup2(logfd, 2), 2);
    struct void_http h;
    start(&h, 0, 4);
    int idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = dial();
    }
    int refused = 0;
    for (int i = 0; i < 60; i++) {
        int fd = dial();
        refused += closed_within(fd, 2000);
        close(fd);
    }
    for (int i = 0; i < 4; i++) {
        close(idle[i]);
    }
    void_http_fini(&h);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char log[16384];
    ssize_t n = pread(logfd, log, sizeof(log) - 1, 0);
    close(logfd);
    unlink(path);
    assert_true(n >= 0);
    log[n] = '\0';
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "http: ")) != NULL; p++) {
        lines++;
    }
    assert_int_equal(refused, 60);
    assert_true(h.log_total >= 60);
    assert_true(lines >= 1);
    assert_true(lines <= VOID_HTTP_LOG_BURST);
}

/* Setup: a server taking 4 connections in all. Action: hold 4 idle
 * connections, send GET on a 5th; then close one idle connection. Expected:
 * the 5th is not served while 4 are open (it waits in the kernel's backlog,
 * costing the node no descriptor), and is served once one closes. */
static void test_http_serves_no_more_than_its_connection_limit(void **state)
{
    (void)state;
    struct void_http h;
    start(&h, 4, 0);
    int idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = dial();
    }
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000};
    nanosleep(&pause, NULL); /* the server has accepted them */
    int fd = dial();
    request(fd, "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char buf[2048];
    assert_int_equal(read_for(fd, buf, sizeof(buf), 400), 0);
    assert_int_equal(handled, 0);
    close(idle[0]);
    assert_true(read_for(fd, buf, sizeof(buf), 3000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(fd);
    for (int i = 1; i < 4; i++) {
        close(idle[i]);
    }
    void_http_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_answers_405_with_allow_to_methods_it_does_not_take),
        cmocka_unit_test(test_http_takes_post_only_where_opened),
        cmocka_unit_test(test_http_limits_connections_per_address_with_a_bounded_log),
        cmocka_unit_test(test_http_serves_no_more_than_its_connection_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
