"""Small model and training settings (command-line options of ``offline train``) that keep test trainings short."""

from __future__ import annotations

SMALL_STALIGNNET = ["--model-set", "d_model=16", "--model-set", "heads=2", "--model-set", "bsa_layers=1",
                    "--model-set", "hidden=16", "--model-set", "face_rate=4"]
SMALL_TRAINING = ["--set", "epochs=10", "--set", "batch_size=16", "--set", "hop_seconds=0.5", "--set", "lr=3e-3",
                  "--set", "optimizer=adam", "--set", "schedule=none", "--set", "label_smoothing=0",
                  "--set", "clip_grad=0", "--set", "weight_decay=0", "--set", "num_threads=1", "--set", "k=3"]
SMALL_CMT = ["--model-set", "d_model=16", "--model-set", "heads=2", "--model-set", "encoder_layers=1",
             "--model-set", "ff_dim=32", "--model-set", "hidden=16", "--model-set", "steps=4"]
SMALL_CMT_TRAINING = ["--set", "epochs=5", "--set", "batch_size=16", "--set", "hop_seconds=4", "--set", "lr=3e-3",
                      "--set", "num_threads=1"]
SMALL_R2GFANET = ["--model-set", "d_model=16", "--model-set", "heads=2", "--model-set", "hidden=16",
                  "--model-set", "steps=4"]
