#!/usr/bin/python3
"""states.py MODE ARGS...: workloads that hold one kind of kernel state each, for StateMigrateIT.

Every workload appends "ok N TOTAL UNIX_TIME" lines to its LOG (N counting from 1; TOTAL == N while the state is
intact, so a restart or a broken channel shows as a discontinuity) and "ERROR ..." when its state breaks. Runs until
killed. The helper modes (connect, trylock, dgram-server) are run by the test, outside the migrated tree.

  unix LOG PATH          a socketpair between parent and child (the child answers with its own counter) and a
                         listening unix socket bound at PATH whose clients get "pong N"
  ext-unix LOG PATH      a datagram socket connected to a server at PATH outside the tree; sends N every 20 ms
  dgram-server LOG PATH  that server: logs "ok N COUNT TIME" for each datagram N (COUNT = datagrams received)
  connect PATH           connects to PATH, sends "ping", prints the answer
  locks LOG FILE         holds flock(LOCK_EX) on FILE and a POSIX (fcntl) write lock on FILE.posix
  trylock FILE           prints "flock:busy|free posix:busy|free" for FILE and FILE.posix; never waits
  pipes LOG FIFO         a producer child writes N into a pipe, another writes N into FIFO; the parent reads both
                         and logs "ok N N" for the pipe (LOG) and for the FIFO (LOG.fifo)
  timers LOG             setitimer(ITIMER_REAL), a POSIX timer and a timerfd, every 20 ms: logs
                         "tick ALARMS POSIX TIMERFD TIME"
  cgroup LOG CGROUP_DIR  moves itself into CGROUP_DIR (before anything else), then logs "ok N N TIME"
  tick LOG               logs "ok N N TIME": a plain job, for --shell-job
  tty-tick LOG           as tick, and writes "tty N" to its stdout (its terminal) each time; a failed write is
                         logged as "ERROR stdout ..."
  pty-run CMD...         runs CMD on a new pseudo-terminal it holds the master of (a terminal outside the tree)
"""
import ctypes
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time


def log_open(path):
    return open(path, "a", buffering=1)


def error(out, what):
    out.write("ERROR %s\n" % what)


def unix(log, path):
    out = log_open(log)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        parent.close()
        count = 0
        f = child.makefile("rwb", buffering=0)
        while True:
            line = f.readline()
            if not line:
                os._exit(0)
            count += 1
            child.sendall(b"%d %d\n" % (int(line), count))
    child.close()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.setblocking(False)
    answers = 0
    pair = parent.makefile("rb", buffering=0)
    n = 0
    while True:
        n += 1
        parent.sendall(b"%d\n" % n)
        reply = pair.readline().split()
        if len(reply) != 2 or int(reply[0]) != n:
            error(out, "socketpair: sent %d, got %r" % (n, reply))
            time.sleep(1)
            continue
        out.write("ok %d %d %.3f\n" % (n, int(reply[1]), time.time()))
        ready, _, _ = select.select([server], [], [], 0.02)
        if ready:
            try:
                client, _ = server.accept()
                client.settimeout(2)
                if client.recv(64).startswith(b"ping"):
                    answers += 1
                    client.sendall(b"pong %d\n" % answers)
                client.close()
            except OSError as e:
                error(out, "listener: %s" % e)


def ext_unix(log, path):
    out = log_open(log)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(path)
    n = 0
    while True:
        n += 1
        try:
            s.send(b"%d" % n)
            out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        except OSError as e:
            error(out, "send %d: %s" % (n, e))
            n -= 1
            time.sleep(0.5)
        time.sleep(0.02)


def dgram_server(log, path):
    out = log_open(log)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    count = 0
    while True:
        data = s.recv(64)
        count += 1
        out.write("ok %d %d %.3f\n" % (int(data), count, time.time()))


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"ping\n")
    print(s.recv(64).decode().strip())


def locks(log, path):
    out = log_open(log)
    f = open(path, "a")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    g = open(path + ".posix", "a")
    fcntl.lockf(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
    n = 0
    while True:
        n += 1
        out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        time.sleep(0.02)


def trylock(path):
    states = []
    f = open(path, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        states.append("flock:free")
    except BlockingIOError:
        states.append("flock:busy")
    g = open(path + ".posix", "a")
    try:
        fcntl.lockf(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
        states.append("posix:free")
    except (BlockingIOError, PermissionError):
        states.append("posix:busy")
    print(" ".join(states))


def producer(fd, delay):
    n = 0
    while True:
        n += 1
        os.write(fd, b"%d\n" % n)
        time.sleep(delay)


def pipes(log, fifo):
    out = log_open(log)
    fifo_out = log_open(log + ".fifo")
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        producer(w, 0.02)
    os.close(w)
    if os.fork() == 0:
        producer(os.open(fifo, os.O_WRONLY), 0.02)
    fr = os.open(fifo, os.O_RDONLY)
    streams = {r: [b"", 0, out, "pipe"], fr: [b"", 0, fifo_out, "fifo"]}
    while True:
        ready, _, _ = select.select(list(streams), [], [])
        for fd in ready:
            s = streams[fd]
            data = os.read(fd, 4096)
            if not data:
                error(s[2], "%s: end of file" % s[3])
                del streams[fd]
                continue
            s[0] += data
            while b"\n" in s[0]:
                line, s[0] = s[0].split(b"\n", 1)
                s[1] += 1
                got = int(line)
                s[2].write("ok %d %d %.3f\n" % (got, s[1], time.time()))


class Itimerspec(ctypes.Structure):
    _fields_ = [("interval_sec", ctypes.c_long), ("interval_nsec", ctypes.c_long),
                ("value_sec", ctypes.c_long), ("value_nsec", ctypes.c_long)]


class Sigevent(ctypes.Structure):
    # struct sigevent on x86_64: sigev_value, sigev_signo, sigev_notify, then padding to 64 bytes
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_byte * 48)]


def timers(log):
    """setitimer(ITIMER_REAL) -> SIGALRM and a POSIX timer (timer_create) -> SIGUSR1, both every 20 ms, plus a timerfd
    read without blocking; logs "tick ALARMS POSIX TIMERFD TIME" every 20 ms."""
    out = log_open(log)
    counts = {signal.SIGALRM: 0, signal.SIGUSR1: 0}

    def count(signo, _frame):
        counts[signo] += 1

    signal.signal(signal.SIGALRM, count)
    signal.signal(signal.SIGUSR1, count)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    every = Itimerspec(0, 20_000_000, 0, 20_000_000)
    event = Sigevent(None, signal.SIGUSR1, 0)  # SIGEV_SIGNAL
    timer = ctypes.c_void_p()
    if libc.timer_create(1, ctypes.byref(event), ctypes.byref(timer)) != 0:  # CLOCK_MONOTONIC
        error(out, "timer_create: errno %d" % ctypes.get_errno())
        return
    if libc.timer_settime(timer, 0, ctypes.byref(every), None) != 0:
        error(out, "timer_settime: errno %d" % ctypes.get_errno())
        return
    tfd = libc.timerfd_create(1, os.O_NONBLOCK)
    if tfd < 0 or libc.timerfd_settime(tfd, 0, ctypes.byref(every), None) != 0:
        error(out, "timerfd: errno %d" % ctypes.get_errno())
        return
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    expirations = 0
    while True:
        time.sleep(0.02)
        try:
            expirations += struct.unpack("Q", os.read(tfd, 8))[0]
        except BlockingIOError:
            pass
        out.write("tick %d %d %d %.3f\n" % (counts[signal.SIGALRM], counts[signal.SIGUSR1], expirations, time.time()))


def cgroup(log, directory):
    with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
        procs.write("0")
    out = log_open(log)
    n = 0
    while True:
        n += 1
        out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        time.sleep(0.02)


def tick(log):
    out = log_open(log)
    n = 0
    while True:
        n += 1
        out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        time.sleep(0.02)


def tty_tick(log):
    out = log_open(log)
    n = 0
    while True:
        n += 1
        out.write("ok %d %d %.3f\n" % (n, n, time.time()))
        try:
            os.write(1, b"tty %d\n" % n)
        except OSError as e:
            error(out, "stdout %d %s" % (n, e))
        time.sleep(0.02)


def pty_run(*command):
    """Runs COMMAND with its stdio on a new pseudo-terminal whose master this process holds and drains: a terminal
    outside the migrated tree, as a shell job has."""
    master, slave = os.openpty()
    if os.fork() == 0:
        os.close(master)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        os.execvp(command[0], command)
    os.close(slave)
    while True:
        try:
            if not os.read(master, 4096):
                time.sleep(0.1)
        except OSError:
            time.sleep(0.1)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    modes = {"unix": unix, "ext-unix": ext_unix, "dgram-server": dgram_server, "connect": connect, "locks": locks,
             "trylock": trylock, "pipes": pipes, "timers": timers, "cgroup": cgroup, "tick": tick, "tty-tick": tty_tick,
             "pty-run": pty_run}
    modes[mode](*args)


if __name__ == "__main__":
    main()
