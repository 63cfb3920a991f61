"""MXNet RecordIO (``.rec`` + ``.idx``) read and written in pure Python, byte-compatible with MXNet.

mxnet itself no longer installs with current NumPy/Python, yet the aligned CASIA-WebFace that
everybody trains on (insightface's ``faces_webface_112x112``) ships only as RecordIO, so we read
the format ourselves. The names mirror ``mxnet.recordio`` so that users recognise them.

Format (dmlc-core ``recordio.h``/``recordio.cc``, all integers little-endian)
---------------------------------------------------------------------------
* ``.idx``: text lines ``key<TAB>byte_offset``.
* A record at an offset: ``uint32 magic``, ``uint32 lrec``, then ``length`` data bytes zero-padded
  to a multiple of 4. Two generations of dmlc-core exist:

  ========================  ==============  ===================  ========================
  generation                magic           cflag                length
  ========================  ==============  ===================  ========================
  current (MXNet >= 0.5)    ``0xced7230a``  ``(lrec >> 29) & 7`` ``lrec & (2**29 - 1)``
  2015 (``MAGIC_2015``)     ``0x3ed7230a``  ``lrec >> 30``       ``lrec & (2**30 - 1)``
  ========================  ==============  ===================  ========================

  Every ``.rec`` written by MXNet since 2015, insightface's datasets included, uses the current
  generation; that is what :class:`IndexedRecordIO` writes. The reader accepts both.
* cflag 0 is a whole record. The writer scans the payload at 4-byte-aligned positions ``i``
  (``i + 4 <= len``) for the 4 magic bytes; each hit ends a part (cflag 1 for the first part, 2 for
  the next ones) and the magic itself is dropped; the tail is the last part (cflag 3). Only the
  very end of the record is padded (every earlier part has a length that is a multiple of 4).
  The reader concatenates the parts, putting the magic back between consecutive ones.
* Payload (``mxnet.recordio.pack``): an ``IRHeader`` packed as ``struct '<IfQQ'`` (24 bytes:
  uint32 flag, float32 label, uint64 id, uint64 id2); if ``flag > 0`` the label is the ``flag``
  float32 values that follow the header (the header's own label field then holds 0); the rest
  is the encoded image.
"""

from __future__ import annotations

import numbers
import os
import struct
import threading
from collections import namedtuple
from pathlib import Path
from typing import Union

import numpy as np

MAGIC = 0xCED7230A
MAGIC_2015 = 0x3ED7230A
MAX_RECORD_BYTES = (1 << 29) - 1  # the current generation keeps 29 bits for the length

_MAGIC_BYTES = struct.pack("<I", MAGIC)
_HEADER = struct.Struct("<II")  # magic, lrec
_IR = struct.Struct("<IfQQ")  # flag, label, id, id2

IRHeader = namedtuple("IRHeader", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """Image-record header of ``mxnet.recordio``: ``flag`` (number of float32 labels
that follow the header, 0 for a scalar label), ``label`` (float, or an ndarray when ``flag > 0``),
``id`` and ``id2`` (uint64, free for the writer's use)."""


class RecordIOError(ValueError):
    """A ``.rec``/``.idx`` pair that is damaged or inconsistent (the message names file and key/offset)."""


def _decode_lrec(magic: int, lrec: int) -> tuple[int, int]:
    """(cflag, length) of a part header, according to the generation its magic announces."""
    if magic == MAGIC:
        return (lrec >> 29) & 7, lrec & ((1 << 29) - 1)
    return lrec >> 30, lrec & ((1 << 30) - 1)


def _encode_parts(payload: bytes) -> bytes:
    """The bytes dmlc-core's ``RecordIOWriter::WriteRecord`` emits for ``payload`` (see module doc)."""
    size = len(payload)
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"a RecordIO record holds at most {MAX_RECORD_BYTES} bytes, got {size}")
    out = bytearray()
    start = 0  # first byte of the part being built
    # Aligned hits only: a magic at an unaligned position cannot be mistaken for a part header
    # by a reader that walks the file in 4-byte steps, so it stays in the data.
    i = payload.find(_MAGIC_BYTES)
    while i >= 0:
        if i % 4:
            i = payload.find(_MAGIC_BYTES, i + 1)
            continue
        cflag = 1 if start == 0 else 2
        out += _HEADER.pack(MAGIC, (cflag << 29) | (i - start))
        out += payload[start:i]
        start = i + 4
        i = payload.find(_MAGIC_BYTES, start)
    cflag = 0 if start == 0 else 3
    out += _HEADER.pack(MAGIC, (cflag << 29) | (size - start))
    out += payload[start:]
    out += bytes(-size % 4)
    return bytes(out)


def pack(header, image_bytes: bytes) -> bytes:
    """``IRHeader`` (or a 4-tuple) + encoded image -> record payload, as ``mxnet.recordio.pack``.

    A numeric label is stored in the header with ``flag = 0`` (whatever flag was given); an
    array-like label is stored as ``flag = len(label)`` float32 values after the header.
    """
    flag, label, id_, id2 = IRHeader(*header)
    if isinstance(label, numbers.Number):
        head = _IR.pack(0, float(label), int(id_), int(id2))
        return head + bytes(image_bytes)
    values = np.asarray(label, dtype="<f4").ravel()
    return _IR.pack(values.size, 0.0, int(id_), int(id2)) + values.tobytes() + bytes(image_bytes)


def unpack(payload: bytes) -> tuple[IRHeader, bytes]:
    """Record payload -> ``(IRHeader, image_bytes)``, as ``mxnet.recordio.unpack``."""
    if len(payload) < _IR.size:
        raise RecordIOError(f"record payload of {len(payload)} bytes is shorter than the "
                            f"{_IR.size}-byte IRHeader")
    flag, label, id_, id2 = _IR.unpack_from(payload)
    body = payload[_IR.size:]
    if flag > 0:
        if len(body) < 4 * flag:
            raise RecordIOError(f"IRHeader announces {flag} float32 labels but only {len(body)} "
                                f"bytes follow it")
        label = np.frombuffer(body, dtype="<f4", count=flag).astype(np.float32)
        body = body[4 * flag:]
    return IRHeader(flag, label, id_, id2), bytes(body)


PathLike = Union[str, os.PathLike]


class IndexedRecordIO:
    """Random access to a RecordIO file through its ``.idx`` (``mxnet.recordio.MXIndexedRecordIO``).

    ``flag="r"`` reads: ``keys`` (in ``.idx`` order) and ``read_idx(key) -> bytes``.
    ``flag="w"`` writes (truncating both files): ``write_idx(key, payload)``.

    Safe in DataLoader worker processes: the ``.rec`` is opened lazily by whichever process reads,
    and re-opened when the process id changes (a forked worker never shares its parent's file
    position) or after unpickling (spawned workers get the paths, not a file handle).
    """

    def __init__(self, idx_path: PathLike, rec_path: PathLike, flag: str = "r", key_type=int):
        if flag not in ("r", "w"):
            raise ValueError(f"flag must be 'r' or 'w', got {flag!r}")
        self.idx_path = Path(idx_path)
        self.rec_path = Path(rec_path)
        self.flag = flag
        self.key_type = key_type
        self._file = None
        self._pid = None
        self._lock = threading.Lock()
        self.idx: dict = {}
        self.keys: list = []
        if flag == "r":
            self._read_index()
            self._rec_size = self.rec_path.stat().st_size
        else:
            self.rec_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.rec_path, "wb")
            self._idx_file = open(self.idx_path, "w")
            self._pid = os.getpid()

    # -- reading ---------------------------------------------------------------------------------
    def _read_index(self) -> None:
        for path in (self.idx_path, self.rec_path):
            if not path.is_file():
                raise FileNotFoundError(f"RecordIO file not found: {path}")
        with open(self.idx_path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                fields = line.split()
                try:
                    if len(fields) != 2:
                        raise ValueError("expected 'key<TAB>offset'")
                    key, offset = self.key_type(fields[0]), int(fields[1])
                    if offset < 0:
                        raise ValueError("negative offset")
                except ValueError as exc:
                    raise RecordIOError(f"{self.idx_path}, line {lineno}: malformed index line "
                                        f"{line.rstrip()!r} ({exc})") from None
                if key in self.idx:
                    raise RecordIOError(f"{self.idx_path}, line {lineno}: key {key} appears twice")
                self.idx[key] = offset
                self.keys.append(key)

    def _open(self):
        """This process's handle on the ``.rec`` (opened on first use in each process)."""
        if self._file is None or self._pid != os.getpid():
            if self._file is not None:
                self._file.close()  # after a fork this closes only this process's copy of the fd
            self._file = open(self.rec_path, "rb")
            self._pid = os.getpid()
        return self._file

    def _pread(self, offset: int, size: int) -> bytes:
        f = self._open()
        if hasattr(os, "pread"):  # no shared file position at all: safe across threads too
            return os.pread(f.fileno(), size, offset)
        with self._lock:
            f.seek(offset)
            return f.read(size)

    def _read_record(self, offset: int, where: str) -> bytes:
        """The payload of the (possibly split) record starting at ``offset``."""
        parts = []
        pos = offset
        while True:
            head = self._pread(pos, _HEADER.size)
            if len(head) < _HEADER.size:
                raise RecordIOError(f"{self.rec_path}: {where}: truncated record, the file ends at byte "
                                    f"{self._rec_size} inside the part header at offset {pos}")
            magic, lrec = _HEADER.unpack(head)
            if magic not in (MAGIC, MAGIC_2015):
                raise RecordIOError(f"{self.rec_path}: {where}: wrong magic 0x{magic:08x} at offset {pos} "
                                    f"(expected 0x{MAGIC:08x}); the .idx does not match this .rec or "
                                    f"the file is corrupt")
            cflag, length = _decode_lrec(magic, lrec)
            if cflag > 3 or (cflag in (2, 3)) != bool(parts):
                raise RecordIOError(f"{self.rec_path}: {where}: part header at offset {pos} has "
                                    f"cflag {cflag}, impossible {'inside' if parts else 'at the start of'} "
                                    f"a record")
            data = self._pread(pos + _HEADER.size, length)
            if len(data) < length:
                raise RecordIOError(f"{self.rec_path}: {where}: truncated record, {length} bytes announced "
                                    f"at offset {pos} but the file ends at byte {self._rec_size}")
            parts.append(data)
            if cflag in (0, 3):
                return struct.pack("<I", magic).join(parts)
            pos += _HEADER.size + length + (-length % 4)

    def read_idx(self, key) -> bytes:
        """The payload stored under ``key`` (the bytes given to ``write_idx``)."""
        if self.flag != "r":
            raise RuntimeError(f"{self.rec_path} is open for writing, not reading")
        try:
            offset = self.idx[key]
        except KeyError:
            raise KeyError(f"key {key!r} is not in {self.idx_path} ({len(self.keys)} keys)") from None
        where = f"key {key!r}"
        if offset >= self._rec_size:
            raise RecordIOError(f"{self.idx_path}: {where} points at offset {offset}, past the end of "
                                f"{self.rec_path} ({self._rec_size} bytes): truncated .rec or wrong .idx")
        return self._read_record(offset, where)

    def check_end(self) -> None:
        """Fail now, naming the key, if the record stored last in the ``.rec`` is cut short or any
        ``.idx`` offset lies past the end of the file (a download or a conversion that stopped early)."""
        if not self.idx:
            return
        key = max(self.idx, key=self.idx.__getitem__)
        self.read_idx(key)  # the last record in the file: catches a download cut short

    # -- writing ---------------------------------------------------------------------------------
    def write_idx(self, key, payload: bytes) -> None:
        """Append ``payload`` as one record and index it under ``key``."""
        if self.flag != "w":
            raise RuntimeError(f"{self.rec_path} is open for reading, not writing")
        key = self.key_type(key)
        if key in self.idx:
            raise KeyError(f"key {key!r} was already written to {self.idx_path}")
        offset = self._file.tell()
        self._file.write(_encode_parts(bytes(payload)))
        self._idx_file.write(f"{key}\t{offset}\n")
        self.idx[key] = offset
        self.keys.append(key)

    # -- life cycle ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        if self.flag == "w" and not self._idx_file.closed:
            self._idx_file.close()

    def __enter__(self) -> "IndexedRecordIO":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.keys)

    def __getstate__(self) -> dict:
        if self.flag != "r":
            raise TypeError(f"an IndexedRecordIO open for writing ({self.rec_path}) cannot be pickled")
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"IndexedRecordIO({str(self.idx_path)!r}, {str(self.rec_path)!r}, flag={self.flag!r}, "
                f"keys={len(self.keys)})")
