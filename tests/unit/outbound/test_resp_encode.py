"""A command's RESP bytes: hiredis's packer and the Python encoder give the same bytes."""

from __future__ import annotations

import random

from bastion.outbound.resp import Arg, _encode, encode


def _reference(args: tuple[Arg, ...]) -> bytes:
    """RESP written out by hand: an array of bulk strings, numbers in their Python spelling."""
    parts = []
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        elif isinstance(arg, int):
            data = str(int(arg)).encode()
        else:
            data = arg.encode()
        parts.append(b"$" + str(len(data)).encode() + b"\r\n" + data + b"\r\n")
    return b"*" + str(len(args)).encode() + b"\r\n" + b"".join(parts)


def test_the_packed_bytes_are_the_encoded_bytes_on_a_random_corpus() -> None:
    rng = random.Random(7)
    pool: list[Arg] = [
        "EVALSHA", "", "ü\x00é", "\r\n$3\r\n", b"", b"\x00\xff\r\n", 0, -1, 2**70, -(2**64), 10**30,
        0.1 + 0.2, 1e-05, 1e22, -0.0, 5e-324, 1.7976931348623157e308, 1765152000.0,
    ]  # fmt: skip
    for _ in range(500):
        args = tuple(rng.choice(pool) for _ in range(rng.randint(1, 30)))
        assert encode(args) == _encode(args) == _reference(args)


def test_what_hiredis_refuses_is_still_encoded() -> None:
    command: tuple[Arg, ...] = ("SET", "k", True)
    assert encode(command) == _encode(command) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n"
