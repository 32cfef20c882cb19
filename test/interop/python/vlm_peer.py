#!/usr/bin/python3
"""A Switchboard router peer in Python, written from docs/protocols/router.md alone.

It dials a network hub (a DEALER to the hub's ROUTER, one frame per Msg), says
LINK_HELLO without a directory, and then:
  - registers an "AddOne" provider entry at the hub's directory (with ttlMs) and
    renews it every third of the ttl;
  - answers ADD_ONE n with n + 1, PING with PONG, anything else with
    DOES_NOT_UNDERSTAND; messages for connections it does not have get
    MSG_NOT_DELIVERED;
  - on the stdin command {"cmd": "echo", "service": ..., "subject": ..., "contents": ...}
    asks the hub's directory GET_ENTRIES for the service and sends the request to
    the first provider listed.
Everything it does is printed on stdout as JSON lines ({"event": ...}). It exits
when stdin closes, so it never outlives the process that started it.

Usage: vlm_peer.py --hub tcp://127.0.0.1:PORT --machine M --router R [--ttl-ms 3000] [--vnet test] [--trace]
       vlm_peer.py --self-test   (the page's test vectors)
Needs python3-zmq and python3-msgpack.
"""

import argparse
import json
import os
import struct
import sys
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

MAX_ID = 2**53 - 1
AGENT_CONNECTION = 16  # application connections start at 16; 1 is the directory's
REQUEST_TIMEOUT_S = 5.0
# Replies the layer itself sends instead of the answer (the page's "Subjects the layer itself uses").
FAILURE_SUBJECTS = ("MSG_NOT_DELIVERED", "DOES_NOT_UNDERSTAND", "HANDLER_FAILED")


def encode_msg(to, subject, contents=None, frm=None, id=0, reply_id=None, hops=0, meta=None):
    flags = (frm is not None) | (reply_id is not None) << 1 | (meta is not None) << 2 | (contents is not None) << 3
    out = struct.pack(">BB3I", 1, flags, *to)
    if frm is not None:
        out += struct.pack(">3I", *frm)
    out += struct.pack(">Q", id)
    if reply_id is not None:
        out += struct.pack(">Q", reply_id)
    s = subject.encode("utf-8")
    out += struct.pack(">BH", hops, len(s)) + s
    if meta is not None:
        m = msgpack.packb(meta)
        out += struct.pack(">I", len(m)) + m
    if contents is not None:
        out += msgpack.packb(contents)
    return out


class Malformed(Exception):
    pass


def decode_msg(b):
    """The page's decoder, made strict: every refusal it lists raises Malformed."""
    try:
        if len(b) < 25:
            raise Malformed("shorter than the smallest envelope")
        fmt, flags = struct.unpack_from(">BB", b, 0)
        if fmt != 1:
            raise Malformed("format %d" % fmt)
        if flags & ~0x0F:
            raise Malformed("unknown flags 0x%02x" % flags)
        msg, p = {"to": struct.unpack_from(">3I", b, 2)}, 14
        if flags & 1:
            msg["from"] = struct.unpack_from(">3I", b, p)
            p += 12
        (msg["id"],) = struct.unpack_from(">Q", b, p)
        p += 8
        if flags & 2:
            (msg["replyId"],) = struct.unpack_from(">Q", b, p)
            p += 8
        if msg["id"] > MAX_ID or msg.get("replyId", 0) > MAX_ID:
            raise Malformed("id above 2^53 - 1")
        msg["hops"], n = struct.unpack_from(">BH", b, p)
        p += 3
        if p + n > len(b):
            raise Malformed("subject cut short")
        msg["subject"] = b[p:p + n].decode("utf-8")  # strict: invalid UTF-8 raises
        p += n
        if flags & 4:
            (m,) = struct.unpack_from(">I", b, p)
            if p + 4 + m > len(b):
                raise Malformed("meta cut short")
            msg["meta"] = msgpack.unpackb(b[p + 4:p + 4 + m])
            if not isinstance(msg["meta"], dict):
                raise Malformed("meta is not a map")
            p += 4 + m
        if flags & 8:
            # unpackb refuses trailing bytes (ExtraData), so the value fills the rest.
            msg["contents"] = msgpack.unpackb(b[p:])
        elif p != len(b):
            raise Malformed("bytes left over")
        return msg
    except Malformed:
        raise
    except (struct.error, UnicodeDecodeError, ValueError, msgpack.UnpackException) as e:
        raise Malformed("%s: %s" % (type(e).__name__, e))


def addr_str(a):
    return "%d:%d:%d" % tuple(a)


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, default=repr) + "\n")
    sys.stdout.flush()


class Peer:
    def __init__(self, hub, machine, router, ttl_ms, vnet, trace=False):
        self.trace = trace
        self.machine, self.router = machine, router
        self.agent = (machine, router, AGENT_CONNECTION)
        self.directory_addr = (machine, router, 1)
        self.ttl_ms, self.vnet = ttl_ms, vnet
        self.next_id = 1
        self.pending = {}  # request id -> (deadline, on_reply(msg), label)
        self.hub_dir = None  # the hub's directory address, from its hello
        self.next_renewal = None
        self.registrations = 0  # accepted so far, renewals included

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        # The page: ZMTP PING every heartbeat (1000 ms), peer dropped after three silent intervals.
        self.sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        self.sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        # The dialer says hello after every handshake, so watch for handshakes (and drops).
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        self.sock.connect(hub)
        self.stdin_buf = b""

    # -- sending ------------------------------------------------------------

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def send(self, to, subject, contents=None, reply_id=None, frm=None):
        frame = encode_msg(tuple(to), subject, contents, frm=frm or self.agent, id=self.new_id(), reply_id=reply_id)
        self.sock.send(frame)

    def request(self, to, subject, contents, on_reply, label):
        i = self.new_id()
        self.pending[i] = (time.monotonic() + REQUEST_TIMEOUT_S, on_reply, label)
        self.sock.send(encode_msg(tuple(to), subject, contents, frm=self.agent, id=i))

    def reply(self, req, subject, contents=None, frm=None):
        self.send(req["from"], subject, contents, reply_id=req["id"], frm=frm)

    def say_hello(self):
        self.sock.send(encode_msg((0, 0, 0), "LINK_HELLO", {"directory": None}, frm=self.directory_addr, id=0))
        emit("hello-sent")

    # -- the provider's registration ---------------------------------------

    def register(self):
        entry = {
            "addr": list(self.agent),
            "service": "AddOne",
            "params": None,
            "vnets": [self.vnet],
            "perms": None,
            "ttlMs": self.ttl_ms,
        }

        def on_reply(msg):
            if msg["subject"] not in FAILURE_SUBJECTS and msg.get("contents") is None:
                self.registrations += 1
                emit("registered", addr=addr_str(self.agent), service="AddOne", ttlMs=self.ttl_ms, n=self.registrations,
                     atMs=round(time.monotonic() * 1000))
            else:
                emit("register-failed", subject=msg["subject"], contents=msg.get("contents"))

        self.request(self.hub_dir, "REGISTER_ENTRY", entry, on_reply, "REGISTER_ENTRY")
        # A heartbeat well inside the ttl, so one lost renewal does not expire the entry.
        self.next_renewal = time.monotonic() + self.ttl_ms / 3000.0

    # -- receiving ----------------------------------------------------------

    def on_frame(self, frame):
        try:
            msg = decode_msg(frame)
        except Malformed as e:
            emit("malformed", error=str(e))  # dropped, never answered
            return
        msg["hops"] += 1  # one more link crossed
        if self.trace:
            emit("recv", msg=msg)
        if msg["subject"] == "LINK_HELLO":
            self.on_hello(msg)
            return
        if self.hub_dir is None:
            emit("dropped-before-hello", subject=msg["subject"])
            return
        to = msg["to"]
        if (to[0], to[1]) != (self.machine, self.router):
            # This peer routes nothing on: every address it serves is its own.
            self.not_delivered(msg, "no route to %s" % addr_str(to))
        elif to[2] == AGENT_CONNECTION:
            self.on_agent_msg(msg)
        elif to[2] == 1 and msg["subject"] == "DIRECTORY_SYNC":
            emit("sync-ignored")  # no replica here: ignoring updates is allowed (and none should come)
        else:
            self.not_delivered(msg, "no connection %s" % addr_str(to))

    def on_hello(self, msg):
        if "from" not in msg or msg["from"][2] != 1:
            emit("malformed", error="hello without a directory address")
            return
        first = self.hub_dir is None
        self.hub_dir = tuple(msg["from"])
        directory = (msg.get("contents") or {}).get("directory")
        emit("hub-hello", hub=addr_str(self.hub_dir), directory=directory, first=first)
        if first:
            self.register()

    def not_delivered(self, msg, reason):
        if "replyId" in msg or "from" not in msg:
            return  # a reply is never answered; without from there is nowhere to answer
        self.send(msg["from"], "MSG_NOT_DELIVERED", {"reason": reason}, reply_id=msg["id"], frm=self.directory_addr)
        emit("not-delivered", subject=msg["subject"], to=addr_str(msg["to"]), reason=reason)

    def on_agent_msg(self, msg):
        if "replyId" in msg:
            pending = self.pending.pop(msg["replyId"], None)
            if pending is not None:
                pending[1](msg)
            return  # unhandled replies are ignored
        subject = msg["subject"]
        emit("request", subject=subject, contents=msg.get("contents"), frm=addr_str(msg.get("from", (0, 0, 0))), hops=msg["hops"])
        if "from" not in msg:
            return  # fire-and-forget without a sender: nothing to answer
        if subject == "ADD_ONE":
            try:
                n = msg.get("contents")
                if isinstance(n, bool) or not isinstance(n, (int, float)):
                    raise TypeError("ADD_ONE needs a number")
                answer = encode_msg(tuple(msg["from"]), subject, n + 1, frm=self.agent, id=self.new_id(), reply_id=msg["id"])
            except Exception as e:  # the handler "threw": the requester gets EREMOTE
                self.reply(msg, "HANDLER_FAILED", {"name": type(e).__name__, "message": str(e)})
            else:
                self.sock.send(answer)
        elif subject == "PING":
            self.reply(msg, "PONG")
        else:
            self.reply(msg, "DOES_NOT_UNDERSTAND", {"subject": subject})

    # -- commands from stdin -------------------------------------------------

    def on_command(self, line):
        try:
            cmd = json.loads(line)
        except ValueError:
            emit("bad-command", line=line)
            return
        if cmd.get("cmd") == "echo":
            self.find_and_ask(cmd.get("service", "Echo"), cmd.get("subject", "ECHO"), cmd.get("contents"))
        else:
            emit("bad-command", line=line)

    def find_and_ask(self, service, subject, contents):
        if self.hub_dir is None:
            emit("echo-failed", error="no hub yet")
            return

        def on_entries(msg):
            entries = msg.get("contents")
            if msg["subject"] in FAILURE_SUBJECTS or not isinstance(entries, list):
                emit("echo-failed", error="GET_ENTRIES answered %s" % msg["subject"], contents=msg.get("contents"))
                return
            emit("entries", service=service, entries=entries)
            if not entries:
                emit("echo-failed", error="no %s provider" % service)
                return
            target = tuple(entries[0]["addr"])

            def on_answer(answer):
                emit("echo-reply", subject=answer["subject"], contents=answer.get("contents"),
                     frm=addr_str(answer.get("from", (0, 0, 0))), hops=answer["hops"])

            self.request(target, subject, contents, on_answer, subject)

        self.request(self.hub_dir, "GET_ENTRIES", {"service": service}, on_entries, "GET_ENTRIES")

    def on_stdin(self):
        chunk = os.read(0, 4096)
        if not chunk:
            return False
        self.stdin_buf += chunk
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            if line.strip():
                self.on_command(line.decode("utf-8"))
        return True

    # -- the loop -------------------------------------------------------------

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        poller.register(0, zmq.POLLIN)
        emit("started", addr=addr_str(self.agent))
        while True:
            now = time.monotonic()
            deadlines = [p[0] for p in self.pending.values()]
            if self.next_renewal is not None:
                deadlines.append(self.next_renewal)
            timeout = None if not deadlines else max(0, int((min(deadlines) - now) * 1000) + 1)
            for s, _ in poller.poll(timeout):
                if s is self.sock:
                    while self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        self.on_frame(self.sock.recv())
                elif s is self.monitor:
                    ev = recv_monitor_message(self.monitor)
                    if ev["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                        self.say_hello()
                    elif ev["event"] == zmq.EVENT_DISCONNECTED:
                        # Until the hub says hello again the link is not up.
                        self.hub_dir = None
                        self.next_renewal = None
                        emit("link-down")
                elif s == 0:
                    if not self.on_stdin():
                        emit("exiting")
                        return
            now = time.monotonic()
            for i, (deadline, _, label) in list(self.pending.items()):
                if deadline <= now:
                    del self.pending[i]
                    emit("request-timeout", request=label)
            if self.next_renewal is not None and self.next_renewal <= now and self.hub_dir is not None:
                self.register()

    def close(self):
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)
        self.ctx.term()


# The test vectors of docs/protocols/router.md: (hex, arguments of encode_msg).
VECTORS = [
    ("0109" "000000000000000000000000" "000000010000000300000001" "0000000000000000" "00"
     "000a4c494e4b5f48454c4c4f" "81a96469726563746f7279" "81a5766e65747391a474657374",
     dict(to=(0, 0, 0), frm=(1, 3, 1), subject="LINK_HELLO", contents={"directory": {"vnets": ["test"]}})),
    ("0109" "000000010000000200000010" "000000010000000300000011" "0000000000000005" "00"
     "00074144445f4f4e45" "29",
     dict(to=(1, 2, 16), frm=(1, 3, 17), id=5, subject="ADD_ONE", contents=41)),
    ("010b" "000000010000000300000011" "000000010000000200000010" "0000000000000001" "0000000000000005" "00"
     "00074144445f4f4e45" "2a",
     dict(to=(1, 3, 17), frm=(1, 2, 16), id=1, reply_id=5, subject="ADD_ONE", contents=42)),
    ("0105" "000000010000000200000001" "000000010000000300000011" "001fffffffffffff" "03"
     "000450494e47" "0000000a81a57472616365a27431",
     dict(to=(1, 2, 1), frm=(1, 3, 17), id=2**53 - 1, hops=3, subject="PING", meta={"trace": "t1"})),
    ("0100" "000000000000000000000000" "0000000000000000" "00" "0000",
     dict(to=(0, 0, 0), subject="")),
]


def self_test():
    """Encode and decode the page's vectors; print one JSON line with the outcome."""
    failures = []
    for hexbytes, args in VECTORS:
        want = bytes.fromhex(hexbytes)
        got = encode_msg(**args)
        if got != want:
            failures.append("encode %s: %s != %s" % (args["subject"], got.hex(), hexbytes))
        d = decode_msg(want)
        back = {"to": tuple(args["to"]), "id": args.get("id", 0), "hops": args.get("hops", 0), "subject": args["subject"]}
        for key, field in (("frm", "from"), ("reply_id", "replyId"), ("meta", "meta"), ("contents", "contents")):
            if key in args:
                back[field] = tuple(args[key]) if key == "frm" else args[key]
        if d != back:
            failures.append("decode %s: %r != %r" % (args["subject"], d, back))
    for bad in ("02" + VECTORS[4][0][2:], VECTORS[4][0][:2] + "10" + VECTORS[4][0][4:], VECTORS[4][0] + "00", VECTORS[1][0][:-2]):
        try:
            decode_msg(bytes.fromhex(bad))
            failures.append("accepted malformed %s" % bad)
        except Malformed:
            pass
    emit("self-test", vectors=len(VECTORS), failures=failures)
    return not failures


def main():
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(0 if self_test() else 1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", required=True, help="the network hub's tcp endpoint")
    ap.add_argument("--machine", type=int, required=True)
    ap.add_argument("--router", type=int, required=True)
    ap.add_argument("--ttl-ms", type=int, default=3000)
    ap.add_argument("--vnet", default="test")
    ap.add_argument("--trace", action="store_true", help="print every Msg received")
    a = ap.parse_args()
    for name, v in (("machine", a.machine), ("router", a.router)):
        if not 0 < v < 2**32:
            ap.error("--%s must be a u32 above 0" % name)
    peer = Peer(a.hub, a.machine, a.router, a.ttl_ms, a.vnet, a.trace)
    try:
        peer.run()
    finally:
        peer.close()


if __name__ == "__main__":
    main()
