"""Datasets: synthetic faces and digits (embedded), CASIA-WebFace RecordIO and verification sets."""
