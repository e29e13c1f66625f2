"""Imports every model module so that their ``register`` calls fill the registry (see models.registry)."""

from models import cross_modal, face_prior, late_fusion, lfan, lstm_baseline, r2gfanet, stalignnet, tcn  # noqa: F401
