"""Pure computation: feature transforms, networks, the checkpoint bundle and the model registry.

Nothing here knows about threads, streams, Qt or datasets; the live pipeline, offline
training and calibration all call these functions, so a feature is computed one way only.
"""
