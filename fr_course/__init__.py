"""fr_course — the helper package of *Margins on the Hypersphere*, a course on face-recognition losses.

Sub-packages, in the order the course tells the story:

* :mod:`fr_course.losses` — softmax, NormFace, SphereFace, CosFace, ArcFace, the combined margin,
  EqM (reconstructed), HSM (reconstructed), SV-Softmax, SFace and the Hard-Mining wrapper.
* :mod:`fr_course.models` — face ResNet-18 backbones with the ArcFace embedding head.
* :mod:`fr_course.data` — procedural synthetic faces, digits, RecordIO/CASIA and verification sets.
* :mod:`fr_course.evaluation` — the LFW 10-fold verification protocol, ROC, TAR@FAR, plots.
* :mod:`fr_course.training` — a resumable, DDP-capable trainer with the course's profiles.
"""

__version__ = "0.1.0"
