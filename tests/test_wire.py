import json
import socket
import struct

import numpy as np
import pytest
import torch

from grader.isolation import wire


def roundtrip(value):
    blobs = []
    data = wire.encode(value, blobs, wire.refuse_other)
    header, got_blobs = _through_socket({"value": data}, blobs)
    return wire.decode(header["value"], got_blobs, lambda i, t: wire.Handle(i, t))


def _through_socket(header, blobs):
    a, b = socket.socketpair()
    with a, b:
        wire.send_message(a, header, blobs)
        return wire.recv_message(b)


def test_plain_values_survive():
    value = {"a": (1, 2.5, None, True, "x"), "b": [np.arange(6.0).reshape(2, 3)], 3: np.float32(1.5)}
    got = roundtrip(value)
    assert got["a"] == (1, 2.5, None, True, "x")
    np.testing.assert_array_equal(got["b"][0], np.arange(6.0).reshape(2, 3))
    assert got[3].dtype == np.float32 and got[3] == 1.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool, torch.bfloat16])
def test_tensors_keep_dtype_shape_and_grad_flag(dtype):
    t = torch.ones(2, 3, dtype=dtype)
    if dtype.is_floating_point:
        t.requires_grad_(True)
    got = roundtrip(t)
    assert isinstance(got, torch.Tensor) and got.dtype == dtype and got.shape == (2, 3)
    assert got.requires_grad == t.requires_grad
    assert torch.equal(got.detach(), t.detach())


def test_non_contiguous_arrays_are_sent_as_they_look():
    a = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(roundtrip(a), a)


def test_other_objects_do_not_cross_from_the_grader():
    with pytest.raises(wire.WireError):
        roundtrip(object())
    with pytest.raises(wire.WireError):
        roundtrip(np.array([object()], dtype=object))


@pytest.mark.parametrize("bad", [
    {"$nd": 0, "dtype": "object", "shape": [1]},
    {"$nd": 0, "dtype": "float64", "shape": [3]},     # 8 bytes of data, 24 claimed
    {"$nd": 5, "dtype": "float64", "shape": [1]},     # no such blob
    {"$nd": 0, "dtype": "float64", "shape": [-1]},
    {"$tensor": 0, "dtype": "qint8", "shape": [1]},
    {"$slice": [1, "x", None]},
    {"$mystery": 1},
    {"$handle": "1"},
])
def test_malformed_values_are_refused(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad, [b"\0" * 8], lambda i, t: None)


def test_decoded_arrays_are_private_copies():
    blob = np.arange(3.0).tobytes()
    arr = wire.decode({"$nd": 0, "dtype": "float64", "shape": [3]}, [blob], None)
    arr[0] = 99  # writable, so not a view of the message buffer
    assert arr[0] == 99


def _frame(body: bytes, blobs: list[bytes] = (), size: int | None = None) -> bytes:
    """A message as the format has it, with a ``size`` that may lie."""
    rest = struct.pack("<I", len(body)) + body + struct.pack("<I", len(blobs))
    rest += b"".join(struct.pack("<Q", len(blob)) + blob for blob in blobs)
    return struct.pack("<Q", len(rest) if size is None else size) + rest


def test_a_message_larger_than_the_limit_is_refused_from_its_first_bytes():
    """Only the 8 bytes of its size are sent: the receiver must not wait for (or allocate)
    the 1.5 GB it announces, and says how large it was."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("<Q", 1536 * 2**20))
        b.settimeout(5)
        with pytest.raises(wire.WireError, match="1536 MB is larger than the limit of 64 MB"):
            wire.recv_message(b)


def test_the_sender_refuses_a_message_larger_than_the_limit_and_sends_nothing():
    a, b = socket.socketpair()
    with a, b:
        channel = wire.Channel(a)
        big = np.zeros(wire.MAX_MESSAGE_BYTES // 8 + 1)
        blobs = []
        header = {"value": wire.encode(big, blobs, wire.refuse_other)}
        with pytest.raises(wire.MessageTooLarge, match="larger than the limit of 64 MB") as caught:
            channel.send(header, blobs)
        assert caught.value.limit == wire.MAX_MESSAGE_BYTES and caught.value.size > wire.MAX_MESSAGE_BYTES
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(1)
        channel.send({"ok": True})  # the stream is still in step
        assert wire.recv_message(b) == ({"ok": True}, [])


def test_json_and_blobs_count_together_against_the_limit():
    limit = 1000
    a, b = socket.socketpair()
    with a, b:
        sender, receiver = wire.Channel(a, limit=limit), wire.Channel(b, limit=limit)
        body = json.dumps({"x": "y" * 400}, separators=(",", ":")).encode()
        fits = limit - (4 + len(body) + 4 + 8)
        sender.send({"x": "y" * 400}, [b"\0" * fits])
        assert receiver.recv()[1] == [b"\0" * fits]
        with pytest.raises(wire.MessageTooLarge):
            sender.send({"x": "y" * 400}, [b"\0" * (fits + 1)])
        a.sendall(_frame(body, [b"\0" * (fits + 1)]))
        with pytest.raises(wire.MessageTooLarge, match="1001 bytes"):
            receiver.recv()


@pytest.mark.parametrize("size", [0, 10, 100])
def test_a_message_whose_parts_do_not_add_up_to_its_size_is_refused(size):
    """A blob larger than the size announced is refused before it is read."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(_frame(b"{}", [b"\0" * 50], size=size))
        b.settimeout(5)
        with pytest.raises(wire.WireError, match="parts are (larger|smaller) than its size"):
            wire.recv_message(b)


def test_deep_nesting_is_refused():
    a, b = socket.socketpair()
    with a, b:
        body = ("[" * 100_000 + "]" * 100_000).encode()
        a.sendall(_frame(body))
        with pytest.raises(wire.WireError):
            header, _ = wire.recv_message(b)
            wire.decode(header, [], None)


def test_message_format_is_json_not_pickle():
    packed = wire.pack({"x": 1}, [])
    size, length = struct.unpack("<QI", packed[:12])
    assert size == len(packed) - 8
    assert json.loads(packed[12:12 + length]) == {"x": 1}


def test_a_meta_tensor_crosses_as_its_shape_and_dtype():
    got = roundtrip(torch.empty(2, 3, dtype=torch.float64, device="meta"))
    assert got.device.type == "meta" and got.shape == (2, 3) and got.dtype == torch.float64
    with pytest.raises(wire.WireError):
        wire.decode({"$meta": True, "dtype": "float32", "shape": [-1]}, [], lambda i, t: None)


def test_torch_dtypes_and_devices_cross_by_name():
    got = roundtrip((torch.float64, torch.bool, torch.device("cpu"), torch.device("meta")))
    assert got == (torch.float64, torch.bool, torch.device("cpu"), torch.device("meta"))


@pytest.mark.parametrize("bad", [{"$dtype": "object"}, {"$dtype": 3}, {"$dtype": ["float32"]}, {"$device": "cpu; rm -rf /"},
                                 {"$device": "cuda:99999"}, {"$device": ["cpu"]}])
def test_unknown_dtypes_and_devices_are_refused(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad, [], lambda i, t: None)
