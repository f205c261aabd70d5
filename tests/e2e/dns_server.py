"""A DNS server for one name, for tests that need name resolution on a machine without DNS.

It answers A queries for NAME with 127.0.0.1, AAAA queries for it with no address, and any
other name with NXDOMAIN, on 127.0.0.1:53 (run it as root, in the test's network namespace).
Each query is printed, so a test can see that the resolver asked.

Usage: python dns_server.py NAME
"""

import socket
import struct
import sys

A, CLASS_IN = 1, 1


def question_of(query):
    """The queried name, its type, and where the question ends."""
    position, labels = 12, []
    while query[position]:
        length = query[position]
        labels.append(query[position + 1:position + 1 + length].decode("ascii").lower())
        position += 1 + length
    qtype, _ = struct.unpack(">HH", query[position + 1:position + 5])
    return ".".join(labels), qtype, position + 5


def answer(query, name):
    ident = struct.unpack(">H", query[:2])[0]
    asked, qtype, end = question_of(query)
    records = b""
    if asked == name and qtype == A:
        # A pointer to the question's name, then the record: type, class, TTL, 4 bytes.
        records = b"\xc0\x0c" + struct.pack(">HHIH", A, CLASS_IN, 60, 4)
        records += socket.inet_aton("127.0.0.1")
    rcode = 0 if asked == name else 3
    header = struct.pack(">HHHHHH", ident, 0x8180 | rcode, 1, 1 if records else 0, 0, 0)
    return asked, qtype, header + query[12:end] + records


def main():
    name = sys.argv[1].lower().rstrip(".")
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 53))
    print("dns ready", flush=True)
    while True:
        query, peer = server.recvfrom(512)
        asked, qtype, reply = answer(query, name)
        server.sendto(reply, peer)
        print(f"query {asked} type {qtype}", flush=True)


if __name__ == "__main__":
    main()
