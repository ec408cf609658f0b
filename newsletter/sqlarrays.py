"""Lists as Postgres array literals, for statements that take a column of lists as one text[] array;
real[] values read back as numpy rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# array_send of a one-dimensional array without NULLs: a 20-byte header (dimensions, has-NULLs flag,
# element type, length, lower bound), then each element as its 4-byte length and its big-endian value.
_SEND_HEADER = np.dtype(
    [("ndim", ">i4"), ("has_nulls", ">i4"), ("type", ">u4"), ("length", ">i4"), ("lower", ">i4")]
)
_SEND_FLOAT4 = np.dtype([("size", ">i4"), ("value", ">f4")])
_SEND_INT4 = np.dtype([("size", ">i4"), ("value", ">i4")])


def number_array_literal(values: Sequence[int | float | None]) -> str:
    """A Postgres array literal of numbers (None is NULL): one string for psycopg to send, where a list
    is dumped element by element in Python."""
    if None not in values:  # most columns: `map` formats a chunk's ten thousand ids in half the time
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def word_array_literal(values: Sequence[str]) -> str:
    """A Postgres text[] literal of values that need no quoting (hex keys, ISO dates, lowercase words)."""
    return "{" + ",".join(values) + "}"


def array_literal(values: Sequence[str]) -> str:
    """A Postgres text[] literal, every element quoted and escaped."""
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


def float4_vector(sent: bytes) -> np.ndarray:
    """A real[] as Postgres's `array_send` gives it, as a float32 vector. Reading a thousand 256-float
    arrays this way took a third of the time the text form took (psycopg parsing each float)."""
    return _sent_vector(sent, _SEND_FLOAT4, "real[]").astype(np.float32)


def _sent_vector(sent: bytes, element: np.dtype, kind: str) -> np.ndarray:
    if int.from_bytes(sent[:4], "big") == 0:  # an empty array: no dimensions, a 12-byte header
        return np.zeros(0, dtype=element["value"])
    header = np.frombuffer(sent, dtype=_SEND_HEADER, count=1)[0]
    elements = np.frombuffer(sent, dtype=element, offset=_SEND_HEADER.itemsize)
    if header["ndim"] != 1 or header["has_nulls"] or len(elements) != header["length"]:
        raise ValueError(f"not a one-dimensional {kind} without NULLs")
    if (elements["size"] != 4).any():
        raise ValueError(f"not a {kind}")
    return elements["value"]


def float4_vectors(sent: Sequence[bytes]) -> list[np.ndarray]:
    """`float4_vector` of each, decoded together when all have the same length (a chunk's reader
    models: one numpy pass instead of a few small ones per reader)."""
    return [vector.astype(np.float32) for vector in _sent_vectors(sent, _SEND_FLOAT4, "real[]")]


def int4_vectors(sent: Sequence[bytes]) -> list[np.ndarray]:
    """Each integer[] as `array_send` gives it, as an int32 vector; decoded together when all have the same
    length."""
    return [vector.astype(np.int32) for vector in _sent_vectors(sent, _SEND_INT4, "integer[]")]


def _sent_vectors(sent: Sequence[bytes], element: np.dtype, kind: str) -> list[np.ndarray]:
    if not sent or len({len(one) for one in sent}) != 1 or len(sent[0]) <= _SEND_HEADER.itemsize:
        return [_sent_vector(one, element, kind) for one in sent]
    raw = np.frombuffer(b"".join(sent), dtype=np.uint8).reshape(len(sent), len(sent[0]))
    headers = np.ascontiguousarray(raw[:, : _SEND_HEADER.itemsize]).view(_SEND_HEADER)[:, 0]
    elements = np.ascontiguousarray(raw[:, _SEND_HEADER.itemsize :]).view(element)
    if (
        (headers["ndim"] != 1).any()
        or headers["has_nulls"].any()
        or (headers["length"] != elements.shape[1]).any()
    ):
        raise ValueError(f"not one-dimensional {kind} arrays without NULLs")
    if (elements["size"] != 4).any():
        raise ValueError(f"not {kind} arrays")
    return list(elements["value"])
