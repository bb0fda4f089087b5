"""What crosses between the grader and a worker: plain data only.

A message is one JSON document plus raw byte blobs for array data::

    u64 size | u32 json length | json | u32 blob count | (u64 length | bytes) * count

``size`` counts the bytes after it. A message is at most :data:`MAX_MESSAGE_BYTES`
(64 MB) in all: the sender refuses a larger one before sending anything
(:class:`MessageTooLarge`), and the receiver refuses one from its first 8 bytes, before
reading or allocating the rest, so a worker cannot grow the grader by what it sends.

Values are encoded as JSON with a few tagged forms:

- ``{"$tuple": [...]}``, ``{"$dict": [[key, value], ...]}`` (lists are JSON lists);
- ``{"$nd": i, "dtype": "float64", "shape": [2, 3]}``: numpy array in blob ``i``;
  ``"$np"`` the same for a numpy scalar; ``"$tensor"`` for a torch tensor;
- ``{"$handle": id, "type": "Name"}``: an object that stays in the worker;
- ``{"$slice": [start, stop, step]}`` and ``{"$ellipsis": true}`` for indexing;
- ``{"$dtype": "float64"}`` and ``{"$device": "cpu"}`` for torch's dtypes and devices;
  ``{"$meta": true, "dtype": ..., "shape": ...}`` for a tensor on the meta device (no data).

Decoding never executes anything: dtypes come from a fixed list, shapes must match
the blob's length, and the sizes of a message are bounded. There is no pickle here.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from typing import Any, Callable

import numpy as np

MAX_MESSAGE_BYTES = 64 * 2**20       # JSON and blobs together
MAX_BLOBS = 100_000
MAX_DEPTH = 64

NUMPY_DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}
# torch dtype name -> numpy dtype used to carry its bytes
TORCH_CARRIERS = {
    "bool": "bool", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8",
    "float16": "float16", "float32": "float32", "float64": "float64", "complex64": "complex64",
    "complex128": "complex128", "bfloat16": "int16",
}


DEVICE_PATTERN = re.compile(r"(cpu|meta|cuda|mps)(:[0-9]{1,3})?")


class WireError(ValueError):
    """A message broke the format (malformed, too large, or of a forbidden kind)."""


class MessageTooLarge(WireError):
    """A message larger than the limit; ``size`` and ``limit`` in bytes."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"a message of {_mb(size)} is larger than the limit of {_mb(limit)}")
        self.size, self.limit = size, limit


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size} bytes"


class Handle:
    """Reference to an object that lives in the worker. Only the worker can resolve it."""

    __slots__ = ("_wire_id", "_wire_type")

    def __init__(self, handle_id: int, type_name: str):
        object.__setattr__(self, "_wire_id", handle_id)
        object.__setattr__(self, "_wire_type", type_name)

    def __repr__(self) -> str:
        return f"<{self._wire_type} object>"


def _torch():
    import torch

    return torch


# ---------------------------------------------------------------- encoding

def encode(value: Any, blobs: list[bytes], on_other: Callable[[Any], dict], depth: int = 0) -> Any:
    """Turn ``value`` into JSON-ready data, appending array bytes to ``blobs``.

    Objects that are not plain data go through ``on_other`` (the worker turns them
    into handles; the grader refuses them).
    """
    if depth > MAX_DEPTH:
        raise WireError("value is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, Handle):
        return {"$handle": value._wire_id, "type": value._wire_type}
    if type(value) is tuple:
        return {"$tuple": [encode(v, blobs, on_other, depth + 1) for v in value]}
    if type(value) is list:
        return [encode(v, blobs, on_other, depth + 1) for v in value]
    if type(value) is dict:
        return {"$dict": [[encode(k, blobs, on_other, depth + 1), encode(v, blobs, on_other, depth + 1)]
                          for k, v in value.items()]}
    if type(value) is slice:
        return {"$slice": [encode(value.start, blobs, on_other), encode(value.stop, blobs, on_other),
                           encode(value.step, blobs, on_other)]}
    if value is Ellipsis:
        return {"$ellipsis": True}
    if isinstance(value, np.ndarray) and type(value) is np.ndarray and value.dtype.name in NUMPY_DTYPES:
        blobs.append(np.ascontiguousarray(value).tobytes())
        return {"$nd": len(blobs) - 1, "dtype": value.dtype.name, "shape": list(value.shape)}
    if isinstance(value, np.generic) and value.dtype.name in NUMPY_DTYPES:
        blobs.append(np.asarray(value).tobytes())
        return {"$np": len(blobs) - 1, "dtype": value.dtype.name, "shape": []}
    torch = _torch_if_loaded()
    if torch is not None:
        if type(value) in (torch.Tensor, torch.nn.Parameter):
            return _encode_tensor(value, blobs, torch)
        if isinstance(value, torch.dtype):
            name = str(value).replace("torch.", "")
            if name not in TORCH_CARRIERS:
                raise WireError(f"dtype {name} cannot cross")
            return {"$dtype": name}
        if isinstance(value, torch.device):
            return {"$device": str(value)}
    return on_other(value)


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")


def _encode_tensor(value, blobs: list[bytes], torch) -> dict:
    name = str(value.dtype).replace("torch.", "")
    if name not in TORCH_CARRIERS:
        raise WireError(f"tensors of dtype {name} cannot cross to the grader")
    if value.device.type == "meta":  # shape and dtype only: a check can still ask where it was made
        return {"$meta": True, "dtype": name, "shape": list(value.shape)}
    data = value.detach().cpu()
    if name == "bfloat16":
        data = data.view(torch.int16)
    blobs.append(np.ascontiguousarray(data.resolve_conj().resolve_neg().numpy()).tobytes())
    return {
        "$tensor": len(blobs) - 1,
        "dtype": name,
        "shape": list(value.shape),
        "requires_grad": bool(value.requires_grad),
        "parameter": isinstance(value, torch.nn.Parameter),
    }


def refuse_other(value: Any) -> dict:
    raise WireError(f"cannot send a {type(value).__name__} to the worker: only plain data crosses")


# ---------------------------------------------------------------- decoding

def _array(blobs: list[bytes], index: Any, dtype: Any, shape: Any) -> np.ndarray:
    if not isinstance(index, int) or not 0 <= index < len(blobs):
        raise WireError("array refers to a missing blob")
    if dtype not in NUMPY_DTYPES:
        raise WireError(f"dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise WireError("malformed array shape")
    dt = np.dtype(dtype)
    count = 1
    for n in shape:
        count *= n
    if count * dt.itemsize != len(blobs[index]):
        raise WireError("array shape does not match its data")
    return np.frombuffer(blobs[index], dtype=dt).reshape(shape).copy()


def decode(data: Any, blobs: list[bytes], on_handle: Callable[[int, str], Any], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise WireError("value is nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, blobs, on_handle, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise WireError("malformed value")
    if "$tuple" in data:
        return tuple(decode(v, blobs, on_handle, depth + 1) for v in _list(data["$tuple"]))
    if "$dict" in data:
        out = {}
        for pair in _list(data["$dict"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed dict entry")
            key = decode(pair[0], blobs, on_handle, depth + 1)
            try:
                out[key] = decode(pair[1], blobs, on_handle, depth + 1)
            except TypeError:
                raise WireError("unhashable dict key") from None
        return out
    if "$nd" in data:
        return _array(blobs, data["$nd"], data.get("dtype"), data.get("shape"))
    if "$np" in data:
        return _array(blobs, data["$np"], data.get("dtype"), [])[()]
    if "$tensor" in data:
        return _decode_tensor(data, blobs)
    if "$meta" in data:
        shape = data.get("shape")
        if data.get("dtype") not in TORCH_CARRIERS or not isinstance(shape, list) or len(shape) > 32 \
                or not all(type(n) is int and 0 <= n < 2**40 for n in shape):
            raise WireError("malformed meta tensor")
        torch = _torch()
        return torch.empty(shape, dtype=getattr(torch, data["dtype"]), device="meta")
    if "$handle" in data:
        if not isinstance(data["$handle"], int) or not isinstance(data.get("type", ""), str):
            raise WireError("malformed handle")
        return on_handle(data["$handle"], data.get("type", "object")[:100])
    if "$slice" in data:
        parts = [decode(v, blobs, on_handle, depth + 1) for v in _list(data["$slice"])]
        if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
            raise WireError("malformed slice")
        return slice(*parts)
    if "$ellipsis" in data:
        return Ellipsis
    if "$dtype" in data:
        if not isinstance(data["$dtype"], str) or data["$dtype"] not in TORCH_CARRIERS:
            raise WireError(f"dtype {data['$dtype']!r} is not allowed")
        return getattr(_torch(), data["$dtype"])
    if "$device" in data:
        if not isinstance(data["$device"], str) or not DEVICE_PATTERN.fullmatch(data["$device"]):
            raise WireError("malformed device")
        return _torch().device(data["$device"])
    raise WireError("unknown tagged value")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise WireError("malformed value: expected a list")
    return value


def _decode_tensor(data: dict, blobs: list[bytes]):
    torch = _torch()
    name = data.get("dtype")
    if name not in TORCH_CARRIERS:
        raise WireError(f"tensor dtype {name!r} is not allowed")
    arr = _array(blobs, data["$tensor"], TORCH_CARRIERS[name], data.get("shape"))
    tensor = torch.from_numpy(arr)
    if name == "bfloat16":
        tensor = tensor.view(torch.bfloat16)
    if data.get("parameter") is True:
        return torch.nn.Parameter(tensor, requires_grad=bool(data.get("requires_grad")))
    if data.get("requires_grad") is True and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


# ---------------------------------------------------------------- framing

def pack(header: dict, blobs: list[bytes], limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The message's bytes; :class:`MessageTooLarge` (before copying a blob) past ``limit``."""
    body = json.dumps(header, allow_nan=True, separators=(",", ":")).encode()
    size = 4 + len(body) + 4 + sum(8 + len(blob) for blob in blobs)
    if size > limit:
        raise MessageTooLarge(size, limit)
    if len(blobs) > MAX_BLOBS:
        raise WireError("too many blobs")
    parts = [struct.pack("<QI", size, len(body)), body, struct.pack("<I", len(blobs))]
    for blob in blobs:
        parts.append(struct.pack("<Q", len(blob)))
        parts.append(blob)
    return b"".join(parts)


class Channel:
    """Messages over a connected stream socket, read through a buffer (a message is
    read in a few system calls, not one per field)."""

    def __init__(self, sock: socket.socket, buffered: bool = True, limit: int = MAX_MESSAGE_BYTES):
        self.sock = sock
        self.limit = limit
        self._reader = sock.makefile("rb", buffering=2**16 if buffered else 0)

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        """Send one message; :class:`MessageTooLarge` (nothing sent) if it exceeds the limit."""
        self.sock.sendall(pack(header, list(blobs), self.limit))

    def _exact(self, size: int) -> bytes:
        parts, missing = [], size
        while missing:
            data = self._reader.read(missing)
            if not data:
                raise EOFError("connection closed")
            parts.append(data)
            missing -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def recv(self) -> tuple[dict, list[bytes]]:
        """The next message. Its size is checked first, and every length inside it against
        what is left of that size: nothing larger than the limit is read or allocated."""
        (size,) = struct.unpack("<Q", self._exact(8))
        if size > self.limit:
            raise MessageTooLarge(size, self.limit)
        left = size

        def take(count: int) -> bytes:
            nonlocal left
            if count > left:
                raise WireError("malformed message: its parts are larger than its size")
            left -= count
            return self._exact(count)

        (length,) = struct.unpack("<I", take(4))
        try:
            header = json.loads(take(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise WireError(f"malformed message: {exc}") from None
        if not isinstance(header, dict):
            raise WireError("malformed message")
        (count,) = struct.unpack("<I", take(4))
        if count > MAX_BLOBS:
            raise WireError("too many blobs")
        blobs = []
        for _ in range(count):
            (length,) = struct.unpack("<Q", take(8))
            blobs.append(take(length))
        if left:
            raise WireError("malformed message: its parts are smaller than its size")
        return header, blobs

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


def send_message(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    Channel(sock).send(header, blobs)


def recv_message(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """One message from ``sock``, reading nothing past it (a conversation uses :class:`Channel`)."""
    return Channel(sock, buffered=False).recv()
