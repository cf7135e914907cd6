"""Train a small neural network on scikit-learn's handwritten digits, one epoch at a time.

The bundled example of ``hypersweep quickstart``, written the way a W&B user writes a sweep run:
``init(config=defaults)``, read the parameters from ``config``, ``log`` a row per epoch. The
digits (1,797 8x8 images) ship inside scikit-learn, so nothing is downloaded; a run takes about
a second on one core.

Run it by hand (``python train.py --learning_rate=0.01``) or under an agent, which passes the
sweep's parameters both as ``--name=value`` flags and through ``WANDB_SWEEP_PARAM_PATH``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.metrics import log_loss  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sklearn.neural_network import MLPClassifier  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

import hypersweep

DEFAULTS = {
    "learning_rate": 1e-3,
    "alpha": 1e-4,
    "hidden_size": 64,
    "batch_size": 32,
    "optimizer": "adam",
    "epochs": 12,
}


def parse_args() -> argparse.Namespace:
    """Flags for running by hand; under an agent the sweep's values win either way (spec §7.3)."""
    parser = argparse.ArgumentParser(description="Train an MLP on the digits, one epoch at a time.")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key}", type=type(value), default=value)
    return parser.parse_args()


def main() -> None:
    hypersweep.init(config=vars(parse_args()))
    config = hypersweep.config

    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    classes = np.unique(digits.target)

    model = MLPClassifier(
        hidden_layer_sizes=(int(config.hidden_size),),
        solver=str(config.optimizer),
        learning_rate_init=float(config.learning_rate),
        alpha=float(config.alpha),
        batch_size=int(config.batch_size),
        momentum=0.9,
        random_state=0,
    )
    for epoch in range(1, int(config.epochs) + 1):
        with warnings.catch_warnings():
            # partial_fit is one epoch by design; sklearn warns that it has not converged.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x_train, y_train, classes=classes)
        probabilities = model.predict_proba(x_val)
        hypersweep.log(
            {
                "epoch": epoch,
                "train_loss": float(model.loss_),
                "val_loss": float(log_loss(y_val, probabilities, labels=classes)),
                "val_accuracy": float(np.mean(classes[probabilities.argmax(axis=1)] == y_val)),
            }
        )
    hypersweep.finish()


if __name__ == "__main__":
    main()
