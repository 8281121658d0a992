#!/usr/bin/env python3
"""Write an uncompressed newc cpio archive (the initramfs format) from a list.

Used by guest/build-initrd.sh and guest/build-test-initrd.sh, so that device
nodes need no root and the output is byte-for-byte reproducible (owner 0:0,
mtime 0, inode numbers in list order).

Input, one entry per line on stdin (paths without a leading slash):
    dir   PATH MODE
    file  PATH MODE SRC
    slink PATH TARGET
    nod   PATH MODE c|b MAJOR MINOR
MODE is octal permission bits. Usage: mkcpio.py OUT < LIST
"""

import stat
import sys


def header(ino, mode, nlink, size, name, rdev=(0, 0)):
    """One newc header plus name, padded to 4 bytes."""
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields)
    data = head + name.encode() + b"\0"
    return data + b"\0" * (-len(data) % 4)


def entry(ino, line):
    kind, path, *rest = line.split()
    path = path.lstrip("/")
    if kind == "file":
        mode, src = rest
        with open(src, "rb") as f:
            body = f.read()
        return header(ino, stat.S_IFREG | int(mode, 8), 1, len(body), path), body
    if kind == "dir":
        return header(ino, stat.S_IFDIR | int(rest[0], 8), 2, 0, path), b""
    if kind == "slink":
        body = rest[0].encode()
        return header(ino, stat.S_IFLNK | 0o777, 1, len(body), path), body
    if kind == "nod":
        mode, dev, major, minor = rest
        fmt = stat.S_IFCHR if dev == "c" else stat.S_IFBLK
        return header(ino, fmt | int(mode, 8), 1, 0, path, (int(major), int(minor))), b""
    raise ValueError(f"unknown entry type {kind!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkcpio.py OUT < LIST")
    out = bytearray()
    ino = 1
    for n, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            head, body = entry(ino, line)
        except (ValueError, OSError) as e:
            sys.exit(f"mkcpio: line {n} ({line}): {e}")
        out += head + body + b"\0" * (-len(body) % 4)
        ino += 1
    out += header(0, 0, 1, 0, "TRAILER!!!")
    with open(sys.argv[1], "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
