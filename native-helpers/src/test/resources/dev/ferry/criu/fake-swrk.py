"""Plays `criu swrk 3` for CriuSwrkTest: fake-swrk.py MODE swrk 3.

Reads one request from fd 3 (SOCK_SEQPACKET, one protobuf message per record) and, if it is a RESTORE with
lazy_pages and a log file, sends the notifications pre-restore, post-restore (pid 4242) and pre-resume, each
waiting for the NOTIFY ack, then the reply: success with pid 4242 if every ack said yes. A malformed request gets
success=false and a cr_errmsg. MODE exit: exits 3 after reading the request; MODE hang: never answers. Exits 0 when
the other end closes.
"""
import socket
import sys
import time


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, value):
    if isinstance(value, bytes):
        return varint(num << 3 | 2) + varint(len(value)) + value
    return varint(num << 3) + varint(value)


def varint_at(b, i):
    value = shift = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return value, i


def parse(b):
    fields, i = {}, 0
    while i < len(b):
        tag, i = varint_at(b, i)
        value, i = varint_at(b, i)
        if tag & 7 == 2:
            value, i = b[i:i + value], i + value
        fields[tag >> 3] = value
    return fields


mode = sys.argv[1]
assert sys.argv[2:] == ["swrk", "3"], sys.argv
sk = socket.socket(fileno=3)
assert sk.type == socket.SOCK_SEQPACKET, sk.type
req = parse(sk.recv(1 << 16))
if mode == "exit":
    sys.exit(3)
if mode == "hang":
    time.sleep(60)
opts = parse(req.get(2, b""))
if req.get(1) != 2 or opts.get(48) != 1 or opts.get(10) != b"restore.log" or 1 not in opts:
    sk.send(field(1, 2) + field(2, 0) + field(9, b"fake swrk: expected RESTORE with lazy_pages, log_file, images_dir_fd"))
else:
    ok = True
    for name, pid in (("pre-restore", 0), ("post-restore", 4242), ("pre-resume", 0)):
        note = field(1, name.encode()) + (field(2, pid) if pid else b"")
        sk.send(field(1, 6) + field(2, 1) + field(5, note))
        ack = parse(sk.recv(1 << 16))
        if ack.get(1) != 6 or ack.get(3) != 1:
            ok = False
            break
    sk.send(field(1, 2) + field(2, 1 if ok else 0) + (field(4, field(1, 4242)) if ok else b""))
sk.recv(1)
