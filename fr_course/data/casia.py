"""CASIA-WebFace (Yi et al., 2014, arXiv:1411.7923) as people actually have it.

Two forms are read:

* :class:`CasiaWebFace` — the MXNet RecordIO copy ``train.rec``/``train.idx`` (+ ``property``,
  ``C,H,W``), either in insightface's layout (``faces_webface_112x112``: 10,572 identities,
  490,623 images) or as a plain ``im2rec`` file where every key is an image;
* :class:`CasiaImageFolder` — one sub-folder per identity of images already aligned to 112×112.

insightface layout (written by its ``face2rec2.py``): key 0 holds an IRHeader with ``flag = 2``,
an empty image and label ``[first_identity_key, end]``; keys ``1 .. first_identity_key − 1`` are
images grouped by identity (label = class id, or an array whose first element is the class id);
keys ``first_identity_key .. end − 1`` are identity records whose label is the ``[start, end)``
range of that identity's image keys. The class ids of the items come from the records
themselves, as insightface's trainer reads them: ``labels`` is built from one image per identity
range, and every image read later is checked against it.

Items are ``(uint8 RGB tensor (3, H, W), int label)`` (``docs/INTERFACES.md``); ``num_classes``,
``class_counts`` and ``labels`` serve samplers, the HSM loss and statistics.

Bad images. An image that cannot be decoded (or decodes to the wrong size) is, with
``on_bad_image="skip"`` (the default), replaced by the next good image *of the same class*
(cyclically, in item order — deterministic, so a resumed run sees the same substitute), counted
in ``bad_images`` and reported by a :class:`BadImageWarning` giving the running count (at 1, 2, 4,
8, ... bad images; counts are per process, so each DataLoader worker reports its own). With
``on_bad_image="raise"`` it raises a ``ValueError`` naming the file and key. A damaged RecordIO
structure (wrong magic, truncated record, an ``.idx`` pointing past the end) is not an image
problem: it always raises :class:`~fr_course.data.recordio.RecordIOError`, and the end of the file
is checked when the dataset is opened, so a cut-short download fails at once, not mid-epoch.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .pairs import decode_image
from .recordio import IndexedRecordIO, IRHeader, RecordIOError, pack, unpack

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

PREPARE_HINT = (
    "Prepare it with one of:\n"
    "  python data_scripts/make_synthetic_casia.py --out {root}        (CASIA-shaped synthetic data)\n"
    "  python data_scripts/folder_to_rec.py ALIGNED_IMAGE_FOLDER {root}  (your own aligned 112x112 images)\n"
    "or unpack insightface's faces_webface_112x112 (train.rec, train.idx, property, *.bin) into {root}."
)


class BadImageWarning(UserWarning):
    """Undecodable images were skipped (the message gives the running count)."""


def encode_image(image, format: str = "JPEG", quality: int = 95) -> bytes:
    """uint8 RGB (3, H, W) tensor or (H, W, 3) array -> encoded JPEG/PNG bytes (the inverse of
    :func:`~fr_course.data.pairs.decode_image`; JPEG without chroma subsampling, as faces are small)."""
    import io

    from PIL import Image

    array = image.permute(1, 2, 0).numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"encode_image expects uint8 RGB (3, H, W) or (H, W, 3), got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    options = {"quality": quality, "subsampling": 0} if format.upper() in ("JPEG", "JPG") else {}
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format=format, **options)
    return buffer.getvalue()


def missing_data_error(path: Path, root: Path, what: str) -> FileNotFoundError:
    """The error for a missing dataset path: names it and the command that prepares it."""
    return FileNotFoundError(f"{what} not found: {path}\n" + PREPARE_HINT.format(root=root))


def read_property(path: Path) -> tuple[int, int, int]:
    """insightface's ``property`` file ``num_classes,height,width`` -> (C, H, W)."""
    text = Path(path).read_text().strip()
    try:
        values = tuple(int(v) for v in text.split(","))
        if len(values) != 3 or min(values) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"{path}: expected 'num_classes,height,width' (e.g. 10572,112,112), got {text!r}") from None
    return values


def _class_id(header: IRHeader) -> float:
    """The class id of an image record: a scalar label, or the first element of an array label."""
    return float(header.label[0]) if header.flag > 0 else float(header.label)


def identity_statistics(class_counts) -> dict:
    """Images-per-identity summary: ``identities``, ``images``, ``min``, ``median``, ``mean``,
    ``max`` and the Gini coefficient ``gini`` of the counts (0 = balanced, → 1 = all images in one
    identity): G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄), computed from the sorted counts as
    G = 2 Σ_i i·x_(i) / (n Σ x) − (n + 1) / n with i = 1..n."""
    counts = np.sort(np.asarray(class_counts, dtype=np.float64))
    n = counts.size
    if n == 0 or counts.sum() <= 0:
        raise ValueError("identity_statistics needs at least one identity with images")
    ranks = np.arange(1, n + 1)
    gini = 2.0 * float((ranks * counts).sum()) / (n * counts.sum()) - (n + 1) / n
    return {"identities": int(n), "images": int(counts.sum()), "min": int(counts[0]),
            "median": float(np.median(counts)), "mean": float(counts.mean()), "max": int(counts[-1]),
            "gini": gini}


class _IdentityDataset(Dataset):
    """Shared behaviour of the training sets: items, class statistics and the bad-image policy.

    Subclasses set ``labels`` (int64 per item) and ``num_classes`` and implement ``_encoded(i)``
    (the encoded bytes of item i) and ``_where(i)`` (file and key, for messages).
    """

    labels: np.ndarray
    num_classes: int
    source: str

    def __init__(self, transform: Callable | None, on_bad_image: str, image_size: int | None):
        if on_bad_image not in ("skip", "raise"):
            raise ValueError(f"on_bad_image must be 'skip' or 'raise', got {on_bad_image!r}")
        self.transform = transform
        self.on_bad_image = on_bad_image
        self.image_size = image_size
        self.expected_hw: tuple[int, int] | None = (image_size, image_size) if image_size else None
        self.bad_images = 0
        self._bad_items: set[int] = set()
        self._members: list[np.ndarray] | None = None

    @property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.num_classes).astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def _encoded(self, index: int) -> bytes:
        raise NotImplementedError

    def _where(self, index: int) -> str:
        raise NotImplementedError

    def _decode(self, index: int) -> torch.Tensor:
        image = decode_image(self._encoded(index), self.image_size)
        if self.expected_hw is not None and tuple(image.shape[1:]) != self.expected_hw:
            raise ValueError(f"decoded to {tuple(image.shape[1:])}, expected {self.expected_hw}")
        return image

    def _substitute(self, index: int) -> tuple[int, torch.Tensor]:
        """The next decodable item of the same class after ``index`` (cyclic, in item order)."""
        if self._members is None:
            order = np.argsort(self.labels, kind="stable")
            bounds = np.cumsum(np.bincount(self.labels, minlength=self.num_classes))[:-1]
            self._members = np.split(order, bounds)
        members = self._members[int(self.labels[index])]
        start = int(np.searchsorted(members, index))
        for candidate in np.roll(members, -start - 1):
            candidate = int(candidate)
            if candidate == index or candidate in self._bad_items:
                continue
            try:
                return candidate, self._decode(candidate)
            except RecordIOError:
                raise
            except Exception as exc:
                self._note_bad(candidate, exc)
        raise ValueError(f"{self.source}: no decodable image left in class {int(self.labels[index])} "
                         f"({len(members)} images) to replace {self._where(index)}")

    def _note_bad(self, index: int, exc: Exception) -> None:
        if index in self._bad_items:
            return
        self._bad_items.add(index)
        self.bad_images += 1
        if self.bad_images & (self.bad_images - 1) == 0:  # 1, 2, 4, 8, ...: a log, not a flood
            warnings.warn(f"{self.source}: {self.bad_images} undecodable image(s) skipped so far in this "
                          f"process (latest {self._where(index)}: {exc}); each is replaced by the next good "
                          f"image of its class. Use on_bad_image='raise' to stop instead.",
                          BadImageWarning, stacklevel=3)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        try:
            if index in self._bad_items:
                raise ValueError("known undecodable")
            image = self._decode(index)
        except RecordIOError:
            raise
        except Exception as exc:
            if self.on_bad_image == "raise":
                raise ValueError(f"{self._where(index)}: image cannot be decoded: {exc}") from exc
            self._note_bad(index, exc)
            _, image = self._substitute(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


class CasiaWebFace(_IdentityDataset):
    """CASIA-WebFace from ``root/train.rec`` + ``root/train.idx`` (insightface layout or plain im2rec).

    ``image_size`` (optional) resizes every image to a square of that side; otherwise images are
    returned at their stored size, which must match ``property`` when that file is present.
    """

    def __init__(self, root, transform: Callable | None = None, on_bad_image: str = "skip",
                 image_size: int | None = None):
        super().__init__(transform, on_bad_image, image_size)
        self.root = Path(root)
        rec_path, idx_path = self.root / "train.rec", self.root / "train.idx"
        if not self.root.is_dir():
            raise missing_data_error(self.root, self.root, "CASIA-WebFace folder")
        for path in (rec_path, idx_path):
            if not path.is_file():
                if any(p.is_dir() for p in self.root.iterdir()):
                    raise FileNotFoundError(f"{path} not found; {self.root} holds sub-folders: for an "
                                            f"identity-folder tree use CasiaImageFolder({str(self.root)!r}).\n"
                                            + PREPARE_HINT.format(root=self.root))
                raise missing_data_error(path, self.root, "CASIA-WebFace RecordIO file")
        self.source = str(rec_path)
        self.record = IndexedRecordIO(idx_path, rec_path, "r")
        self.record.check_end()
        self.layout, self.keys, self.labels = self._index()
        self.property = None
        property_path = self.root / "property"
        num_classes = int(self.labels.max()) + 1 if len(self.labels) else 0
        if property_path.is_file():
            self.property = read_property(property_path)
            if self.property[0] < num_classes:
                raise ValueError(f"{property_path} says {self.property[0]} classes but {rec_path} has "
                                 f"labels up to {num_classes - 1}")
            num_classes = self.property[0]
            if image_size is None:
                self.expected_hw = self.property[1:]
        self.num_classes = num_classes

    def _header(self, key: int) -> tuple[IRHeader, bytes]:
        payload = self.record.read_idx(key)  # its errors already name the file, key and offset
        try:
            return unpack(payload)
        except RecordIOError as exc:
            raise RecordIOError(f"{self.source}: key {key}: {exc}") from None

    def _index(self) -> tuple[str, np.ndarray, np.ndarray]:
        idx = self.record.idx
        if 0 in idx:
            header, body = self._header(0)
            if header.flag > 0 and len(header.label) >= 2 and not body:
                return self._index_insightface(header)
        keys = np.asarray(self.record.keys, dtype=np.int64)
        labels = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):  # plain im2rec: labels only live in the records
            labels[i] = self._checked_label(self._header(int(key))[0], int(key))
        return "im2rec", keys, labels

    def _checked_label(self, header: IRHeader, key: int) -> int:
        value = _class_id(header)
        if value < 0 or value != int(value):
            raise RecordIOError(f"{self.source}: key {key}: class label {value} is not a non-negative integer")
        return int(value)

    def _index_insightface(self, header: IRHeader) -> tuple[str, np.ndarray, np.ndarray]:
        first_identity, end = int(header.label[0]), int(header.label[1])
        if not 1 <= first_identity <= end:
            raise RecordIOError(f"{self.source}: key 0: header label [{first_identity}, {end}] is not a valid "
                                f"[first_identity_record, end] pair")
        missing = [k for k in (*range(1, first_identity), *range(first_identity, end)) if k not in self.record.idx]
        if missing:
            raise RecordIOError(f"{self.source}: {len(missing)} key(s) announced by the header record are "
                                f"missing from {self.record.idx_path}, first: {missing[0]}")
        key_chunks, label_chunks = [], []
        owner = np.full(first_identity, -1, dtype=np.int64)
        for id_key in range(first_identity, end):
            id_header, _ = self._header(id_key)
            if id_header.flag < 2:
                raise RecordIOError(f"{self.source}: key {id_key}: identity record without a [start, end) label")
            start, stop = int(id_header.label[0]), int(id_header.label[1])
            if not 1 <= start <= stop <= first_identity:
                raise RecordIOError(f"{self.source}: key {id_key}: identity range [{start}, {stop}) lies outside "
                                    f"the image keys [1, {first_identity})")
            taken = owner[start:stop]
            if (taken >= 0).any():
                raise RecordIOError(f"{self.source}: key {id_key}: identity range [{start}, {stop}) overlaps the "
                                    f"range of identity record {int(taken[taken >= 0][0])}")
            taken[:] = id_key
            if stop == start:
                continue
            label = self._checked_label(self._header(start)[0], start)
            key_chunks.append(np.arange(start, stop, dtype=np.int64))
            label_chunks.append(np.full(stop - start, label, dtype=np.int64))
        keys = np.concatenate(key_chunks) if key_chunks else np.zeros(0, np.int64)
        labels = np.concatenate(label_chunks) if label_chunks else np.zeros(0, np.int64)
        return "insightface", keys, labels

    def _where(self, index: int) -> str:
        return f"{self.source}: key {int(self.keys[index])}"

    def _encoded(self, index: int) -> bytes:
        key = int(self.keys[index])
        header, body = self._header(key)
        if self.layout == "insightface" and self._checked_label(header, key) != self.labels[index]:
            raise RecordIOError(f"{self.source}: key {key}: label {_class_id(header):g} differs from the "
                                f"label {int(self.labels[index])} of its identity range")
        return body

    def __repr__(self) -> str:
        return (f"CasiaWebFace(root={str(self.root)!r}, layout={self.layout}, images={len(self)}, "
                f"classes={self.num_classes})")


class CasiaImageFolder(_IdentityDataset):
    """CASIA-WebFace (or any aligned face set) as ``root/<identity>/<image>`` files.

    Classes are the sub-folders in sorted name order (``classes``); files with an extension in
    ``IMAGE_EXTENSIONS`` are the images; hidden entries are ignored. Every image must have the size
    of the first decodable one (or is resized to ``image_size`` when given). An identity folder without
    images raises ``ValueError`` listing every such folder: it almost always means a failed
    alignment or copy, and silently dropping it would shift every later class id.
    """

    def __init__(self, root, transform: Callable | None = None, on_bad_image: str = "skip",
                 image_size: int | None = None):
        super().__init__(transform, on_bad_image, image_size)
        self.root = Path(root)
        if not self.root.is_dir():
            raise missing_data_error(self.root, self.root, "Identity-folder tree")
        self.source = str(self.root)
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise ValueError(f"{self.root} has no identity sub-folders (expected root/<identity>/<image>.jpg)")
        files, labels, empty = [], [], []
        for label, folder in enumerate(folders):
            images = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                            and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                empty.append(folder)
            files.extend(images)
            labels.extend([label] * len(images))
        if empty:
            shown = ", ".join(str(p) for p in empty[:5]) + (" ..." if len(empty) > 5 else "")
            raise ValueError(f"{len(empty)} identity folder(s) in {self.root} hold no image "
                             f"({'/'.join(IMAGE_EXTENSIONS)}): {shown}. Remove them or add their images.")
        self.classes = [p.name for p in folders]
        self.files = files
        self.labels = np.asarray(labels, dtype=np.int64)
        self.num_classes = len(folders)
        if self.expected_hw is None:
            self.expected_hw = self._first_size()

    def _first_size(self) -> tuple[int, int] | None:
        """The size of the first decodable image (in sorted order): every image must match it,
        so that a stray image of another size is reported here, not as a collate error."""
        for path in self.files:
            try:
                return tuple(decode_image(path.read_bytes()).shape[1:])
            except Exception:
                continue
        return None

    def _where(self, index: int) -> str:
        return str(self.files[index])

    def _encoded(self, index: int) -> bytes:
        return self.files[index].read_bytes()

    def __repr__(self) -> str:
        return f"CasiaImageFolder(root={str(self.root)!r}, images={len(self)}, classes={self.num_classes})"


def write_casia_rec(root, samples: Iterable[tuple[int, bytes]], class_counts: Sequence[int],
                    image_size: tuple[int, int], progress: Callable[[Iterable], Iterable] | None = None) -> Path:
    """Write ``root/train.rec``, ``train.idx`` and ``property`` in insightface's layout.

    ``samples`` yields ``(label, encoded_image)`` grouped by class in class order, class c
    contributing exactly ``class_counts[c]`` images. Key 0 is written first (the counts are known),
    then the images (keys 1..N), then one identity record per class. The two RecordIO files are
    written under temporary names and renamed at the end, and ``property`` last, so an interrupted
    run never leaves a set that looks complete.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = np.asarray(class_counts, dtype=np.int64)
    n_images, n_classes = int(counts.sum()), len(counts)
    first_identity = n_images + 1
    ends = 1 + np.cumsum(counts)
    starts = ends - counts
    rec_tmp, idx_tmp = root / "train.rec.partial", root / "train.idx.partial"
    with IndexedRecordIO(idx_tmp, rec_tmp, "w") as writer:
        writer.write_idx(0, pack(IRHeader(2, [first_identity, first_identity + n_classes], 0, 0), b""))
        key = 1
        stream = progress(samples) if progress is not None else samples
        for label, encoded in stream:
            if key > n_images:
                raise ValueError(f"more than the {n_images} images announced by class_counts")
            if not starts[label] <= key < ends[label]:
                raise ValueError(f"image {key} has label {label}, but class_counts puts keys "
                                 f"[{starts[label]}, {ends[label]}) in class {label}: samples must come "
                                 f"grouped by class in class order")
            writer.write_idx(key, pack(IRHeader(0, float(label), key, 0), encoded))
            key += 1
        if key != first_identity:
            raise ValueError(f"got {key - 1} images, class_counts announces {n_images}")
        for c in range(n_classes):
            writer.write_idx(first_identity + c, pack(IRHeader(2, [starts[c], ends[c]], 0, 0), b""))
    os.replace(rec_tmp, root / "train.rec")
    os.replace(idx_tmp, root / "train.idx")
    (root / "property").write_text(f"{n_classes},{image_size[0]},{image_size[1]}\n")
    return root
