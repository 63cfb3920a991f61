"""Verification sets: insightface ``.bin`` pair files and the raw LFW ``pairs.txt``.

``.bin`` (insightface's ``lfw.bin``, ``cfp_fp.bin``, ``agedb_30.bin``, ``calfw.bin``, ``cplfw.bin``)
is a pickle of ``(list of 2P encoded images, list of P bools)``; pair k is images 2k and 2k+1.
The files were written by Python 2, in two forms that we have to read:

* ``lfw2pack.py`` stores each image as the JPEG file's bytes (a Python-2 ``str``);
* ``agedb2pack2.py`` / ``cfp2pack.py`` store the 1-D ``uint8`` ndarray that ``cv2.imencode``
  returns, so the pickle rebuilds NumPy arrays (``numpy.core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.dtype``).

**A pickle is a program**: unpickling calls whatever callables the file names. ``load_bin``
therefore resolves globals through an allow-list (:data:`ALLOWED_GLOBALS`) and nothing else:
plain containers and scalars (tuples, lists, bytes/str, bools, ints) need no global at all; the
only callables reachable are NumPy's two array rebuilds (``_reconstruct``, and ``_frombuffer`` for
pickle protocol 5) restricted to ``uint8``/``bool`` dtypes (the forms above as Python 2 or 3
writes them, and bool arrays for ``is_same``) and ``_codecs.encode(text, "latin1")`` (how
Python 3 writes ``bytes`` at pickle protocol 2). Anything else — ``os.system``, ``eval``,
``builtins.getattr`` ... — raises :class:`UnsafePickleError` before it can be called.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

from .pairs import PairSet

VERIFICATION_SETS = ("lfw", "cfp_fp", "agedb_30", "calfw", "cplfw")

_EXPECTED = "a pickled pair (list of 2P encoded images as bytes, list of P bools) as in insightface's .bin files"


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The pickle asks for a global that a verification ``.bin`` never needs (a ``ValueError`` too,
    so that callers handling bad data files catch it)."""


class _ArrayClass:
    """Stands in for ``numpy.ndarray`` inside the pickle: it may only be passed to the array
    rebuild below, never called (calling ``ndarray`` directly would allocate any size asked)."""


_numpy_reconstruct = np.ndarray.__reduce__(np.zeros(1, np.uint8))[0]
_ALLOWED_DTYPES = (np.dtype(np.uint8), np.dtype(np.bool_))


def _rebuild_array(subtype, shape, typecode):
    if subtype is not _ArrayClass:
        raise UnsafePickleError(f"array rebuild asked for {subtype!r}, only numpy.ndarray is allowed")
    return _numpy_reconstruct(np.ndarray, shape, typecode)


def _checked_dtype(spec, align=False, copy=True):
    if isinstance(spec, bytes):  # Python-2 pickles read with encoding="bytes"
        spec = spec.decode("ascii")
    if not isinstance(spec, str) or np.dtype(spec) not in _ALLOWED_DTYPES:
        raise UnsafePickleError(f"dtype {spec!r} refused: a .bin holds only uint8 image bytes and bool flags")
    # Always a fresh descriptor: the pickle's BUILD step then sets the state of this copy, never
    # that of NumPy's shared uint8/bool singletons.
    return np.dtype(spec, bool(align), True)


def _array_from_buffer(buffer, dtype, shape, order="C"):
    if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)) or not isinstance(dtype, np.dtype) \
            or dtype not in _ALLOWED_DTYPES or order not in ("C", "F"):
        raise UnsafePickleError("array rebuild from a buffer allowed only for uint8/bool data")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_bytes(text, encoding):
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickleError(f"_codecs.encode is allowed only as (str, 'latin1'), "
                                f"got ({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _rebuild_array,   # pickles written by NumPy 1.x
    ("numpy._core.multiarray", "_reconstruct"): _rebuild_array,  # ... and by NumPy 2.x
    ("numpy.core.numeric", "_frombuffer"): _array_from_buffer,   # pickle protocol 5, NumPy 1.x
    ("numpy._core.numeric", "_frombuffer"): _array_from_buffer,  # pickle protocol 5, NumPy 2.x
    ("numpy", "ndarray"): _ArrayClass,
    ("numpy", "dtype"): _checked_dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path, **kwargs):
        super().__init__(file, **kwargs)
        self._path = path

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{self._path}: refusing to load: the pickle asks for {module}.{name}, which a "
                                    f"verification .bin never contains (only lists of image bytes and bools are "
                                    f"allowed); the file is corrupt or was crafted to run code") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._path}: refusing persistent id {pid!r}")


def _unpickle(path: Path):
    for encoding in ("ASCII", "bytes"):
        try:
            with open(path, "rb") as f:
                return _RestrictedUnpickler(f, path, encoding=encoding).load()
        except UnicodeDecodeError:
            continue  # a Python-2 str holding binary data: read it again as bytes
        except UnsafePickleError as exc:
            if str(path) in str(exc):
                raise
            raise UnsafePickleError(f"{path}: refusing to load: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); "
                             f"expected {_EXPECTED}") from exc
    raise AssertionError("unreachable: encoding='bytes' never raises UnicodeDecodeError")


def _as_image_bytes(item, index: int, path) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, np.ndarray) and item.dtype == np.uint8 and (
            item.ndim == 1 or (item.ndim == 2 and item.shape[1] == 1)):
        return item.tobytes()  # cv2.imencode's (n, 1) buffer, or a flattened one
    raise ValueError(f"{path}: image {index} is a {type(item).__name__}"
                     f"{' of ' + str(item.dtype) if isinstance(item, np.ndarray) else ''}, expected encoded "
                     f"image bytes; expected {_EXPECTED}")


def _as_flags(flags, path) -> np.ndarray:
    if isinstance(flags, np.ndarray):
        if flags.dtype != np.bool_ or flags.ndim != 1:
            raise ValueError(f"{path}: is_same is a {flags.dtype} array of shape {flags.shape}; expected {_EXPECTED}")
        return flags.copy()
    if not isinstance(flags, (list, tuple)):
        raise ValueError(f"{path}: is_same is a {type(flags).__name__}; expected {_EXPECTED}")
    for i, flag in enumerate(flags):
        if not (isinstance(flag, bool) or (isinstance(flag, int) and flag in (0, 1))):
            raise ValueError(f"{path}: is_same[{i}] is {flag!r} ({type(flag).__name__}); expected {_EXPECTED}")
    return np.asarray(flags, dtype=bool)


def _validate(obj, path) -> tuple[list[bytes], np.ndarray]:
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        shape = f"a {type(obj).__name__}" + (f" of length {len(obj)}" if isinstance(obj, (tuple, list)) else "")
        raise ValueError(f"{path}: the pickle holds {shape}; expected {_EXPECTED}")
    images, flags = obj
    if not isinstance(images, (list, tuple)):
        raise ValueError(f"{path}: the images are a {type(images).__name__}; expected {_EXPECTED}")
    encoded = [_as_image_bytes(item, i, path) for i, item in enumerate(images)]
    is_same = _as_flags(flags, path)
    if len(is_same) == 0 or len(encoded) != 2 * len(is_same):
        raise ValueError(f"{path}: {len(encoded)} images for {len(is_same)} pairs (need 2 per pair, at least "
                         f"one pair); expected {_EXPECTED}")
    return encoded, is_same


def load_bin(path) -> tuple[list[bytes], np.ndarray]:
    """insightface ``.bin`` -> (2P encoded images, P bools), through a restricted unpickler."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"verification file not found: {path}\nBuild one with "
                                f"python data_scripts/lfw_to_bin.py (raw LFW) or "
                                f"python data_scripts/make_synthetic_casia.py (synthetic), or copy it from "
                                f"insightface's faces_webface_112x112.")
    return _validate(_unpickle(path), path)


def write_bin(path, encoded: Sequence[bytes], is_same) -> Path:
    """Write ``(list of bytes, list of bools)`` as an insightface-style ``.bin`` (pickle protocol 4)."""
    path = Path(path)
    images, flags = _validate((list(encoded), [bool(x) for x in np.asarray(is_same, dtype=bool)]), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump((images, [bool(x) for x in flags]), f, protocol=4)
    return path


def read_pairs(pairs_txt, lfw_root) -> tuple[list[str], list[str], np.ndarray]:
    """Raw LFW ``pairs.txt`` -> (paths of the first images, paths of the second, is_same).

    Layout: a first line ``n_folds<TAB>n`` (``10 300`` for the view-2 file; a lone ``n`` as in
    ``pairsDevTrain.txt`` means one fold), then per fold n lines ``name i j`` (same person) and n
    lines ``name1 i name2 j``; image i of ``name`` is ``lfw_root/name/name_%04d.jpg``. Every image
    must exist.
    """
    pairs_txt, lfw_root = Path(pairs_txt), Path(lfw_root)
    if not pairs_txt.is_file():
        raise FileNotFoundError(f"LFW pairs file not found: {pairs_txt}")
    if not lfw_root.is_dir():
        raise FileNotFoundError(f"LFW image folder not found: {lfw_root} (expected lfw_root/<name>/<name>_0001.jpg)")
    lines = [(n, line.split()) for n, line in enumerate(pairs_txt.read_text().splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{pairs_txt} is empty")
    try:
        head = [int(v) for v in lines[0][1]]
        n_folds, per_fold = (1, head[0]) if len(head) == 1 else head
        if n_folds <= 0 or per_fold <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"{pairs_txt}, line {lines[0][0]}: expected 'n_folds<TAB>pairs_per_fold' (e.g. '10\\t300'), "
                         f"got {' '.join(lines[0][1])!r}") from None
    body = lines[1:]
    if len(body) != 2 * n_folds * per_fold:
        raise ValueError(f"{pairs_txt}: the header announces {n_folds} folds x ({per_fold} + {per_fold}) pairs = "
                         f"{2 * n_folds * per_fold} lines, the file has {len(body)}")

    def image(name: str, number: str, lineno: int) -> Path:
        try:
            return lfw_root / name / f"{name}_{int(number):04d}.jpg"
        except ValueError:
            raise ValueError(f"{pairs_txt}, line {lineno}: image number {number!r} is not an integer") from None

    paths_a, paths_b, same = [], [], []
    for k, (lineno, fields) in enumerate(body):
        matched = (k // per_fold) % 2 == 0
        if matched and len(fields) == 3:
            a, b = image(fields[0], fields[1], lineno), image(fields[0], fields[2], lineno)
        elif not matched and len(fields) == 4:
            a, b = image(fields[0], fields[1], lineno), image(fields[2], fields[3], lineno)
        else:
            expected = "'name i j' (a matched pair)" if matched else "'name1 i name2 j' (a mismatched pair)"
            raise ValueError(f"{pairs_txt}, line {lineno}: expected {expected}, got {' '.join(fields)!r}")
        paths_a.append(str(a))
        paths_b.append(str(b))
        same.append(matched)
    missing = sorted({p for p in paths_a + paths_b if not Path(p).is_file()})
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) named by {pairs_txt} are missing under {lfw_root}, "
                                f"first: {missing[0]}")
    return paths_a, paths_b, np.asarray(same, dtype=bool)


def load_pairset(path, image_size: int | None = None) -> PairSet:
    """A ``.bin`` as a :class:`~fr_course.data.pairs.PairSet` named after the file (``lfw``, ...),
    decoding lazily (resized to ``image_size`` when given)."""
    encoded, is_same = load_bin(path)
    return PairSet.from_encoded(encoded, is_same, name=Path(path).stem, image_size=image_size)


def find_verification_sets(root, image_size: int | None = None) -> dict[str, PairSet]:
    """Every known verification set (:data:`VERIFICATION_SETS`) present as ``root/<name>.bin``, in
    that order; an empty dict when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}\nPrepare it with "
                                f"python data_scripts/make_synthetic_casia.py --out {root}, or unpack "
                                f"insightface's faces_webface_112x112 there.")
    return {name: load_pairset(root / f"{name}.bin", image_size)
            for name in VERIFICATION_SETS if (root / f"{name}.bin").is_file()}
