"""Procedural cartoon faces: the embedded, download-free data of the course.

The generator has the *structure* of face recognition (data.md §1): identities are points in a
cube of shape parameters (face outline, skin, hair, eyes, brows, nose, mouth, ears, glasses,
beard...; :mod:`.identity`), some of them deliberate look-alikes of others; every image adds
nuisance — pose, expression, light, occluders, blur, noise — scaled by ``difficulty``
(:mod:`.nuisance`); the number of images per identity is long-tailed like CASIA-WebFace's, with
optional label noise (:mod:`.longtail`); test identities are disjoint from training identities and
verification pairs follow LFW's 10-fold layout (:mod:`.datasets`). Every image is a pure function
of (configuration, identity, image index), rendered by pure-NumPy anti-aliased rasterisation
(:mod:`.raster`, :mod:`.stage`, :mod:`.render`) identically on every machine.

Typical use::

    from fr_course.data.synthetic import make_faces
    data = make_faces("small")            # rendered once (~10 s), then read from the cache
    image, label = data.train[0]          # uint8 (3, 32, 32), int
    data.pairs.is_same                    # (1000,) bools: 10 folds x (50 same + 50 different)
    big = make_faces("casia")             # 10,572 identities, 490,623 images at 112 px, lazy
"""

from .config import LAZY_PRESETS, PRESETS, FaceConfig, make_config
from .datasets import FacePairSet, FaceTrainSet, RenderedFaceTrainSet, TrainLayout, pair_layout
from .faces import FaceData, faces_from_config, make_faces
from .grid import face_grid, plot_face_grid
from .identity import FIELD_NAMES
from .items import IdentityBank, render_items
from .longtail import corrupt_labels, long_tail_counts
from .nuisance import NUISANCE_NAMES, neutral, sample_nuisance
from .render import render_face, render_faces

__all__ = [
    "FaceConfig", "FaceData", "FacePairSet", "FaceTrainSet", "RenderedFaceTrainSet", "TrainLayout",
    "IdentityBank", "PRESETS", "LAZY_PRESETS", "FIELD_NAMES", "NUISANCE_NAMES",
    "make_faces", "faces_from_config", "make_config", "render_face", "render_faces", "render_items",
    "sample_nuisance", "neutral", "face_grid", "plot_face_grid", "long_tail_counts", "corrupt_labels",
    "pair_layout",
]
