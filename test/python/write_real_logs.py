"""Writes the logs the importer tests read, with the real writers, into OUT_DIR, and OUT_DIR/manifest.json
with what each writer was given (the values the importer must give back).

One process for every writer: importing TensorFlow alone takes seconds. Tiny models, a few steps.

    python write_real_logs.py OUT_DIR
"""

import json
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

OUT = sys.argv[1]
manifest = {}


def scalars_of(writer_steps):
    """[(step, value)] as JSON lists; non-finite values as strings (JSON has no NaN)."""
    return [[s, v if math.isfinite(v) else repr(v)] for s, v in writer_steps]


def torch_summary_writer():
    from torch.utils.tensorboard import SummaryWriter

    folder = os.path.join(OUT, "torch", "run")
    given = {"train/grad_norm": [], "grad_norm/encoder.0": [], "grad_norm/head": [], "train/loss": [], "train/lr": []}
    with SummaryWriter(folder) as w:
        for step in range(12):
            total = float("inf") if step == 7 else 1.0 + step / 8
            values = {
                "train/grad_norm": total,
                "grad_norm/encoder.0": 0.25 + step / 16,
                "grad_norm/head": 0.5,
                "train/loss": 3.0 - step / 10,
                "train/lr": 1e-3 * (1 - step / 12),
            }
            for tag, v in values.items():
                w.add_scalar(tag, v, step)
                given[tag].append((step, v))
    manifest["torch"] = {"folder": folder, "scalars": {t: scalars_of(v) for t, v in given.items()}}


def torch_restart():
    """A run that stopped after step 9 and restarted from its step-5 checkpoint, in the same folder."""
    import time

    from torch.utils.tensorboard import SummaryWriter

    folder = os.path.join(OUT, "restart", "run")
    final = {}
    for first, last, offset in ((0, 9, 0.0), (5, 14, 100.0)):
        with SummaryWriter(folder) as w:
            for step in range(first, last + 1):
                v = offset + step
                w.add_scalar("train/grad_norm", v, step)
                w.add_scalar("train/loss", 1.0 / (step + 1), step)
                final[step] = v
        time.sleep(1.1)  # the event file's name carries the second it was opened
    manifest["restart"] = {"folder": folder, "grad_norm": scalars_of(sorted(final.items()))}


def tensorboardx_writer():
    from tensorboardX import SummaryWriter

    folder = os.path.join(OUT, "tensorboardx", "run")
    given = []
    with SummaryWriter(folder) as w:
        for step in range(0, 30, 3):
            v = 0.1 * (step + 1)
            w.add_scalar("gradients/global_norm", v, step)
            w.add_scalar("loss", 2.0 / (step + 1), step)
            given.append((step, v))
    manifest["tensorboardx"] = {"folder": folder, "grad_norm": scalars_of(given)}


def tf_summary_writer():
    import tensorflow as tf

    folder = os.path.join(OUT, "tf2", "run")
    given = {"grad_norm": [], "grad_norm/dense": [], "loss": [], "learning_rate": []}
    w = tf.summary.create_file_writer(folder)
    with w.as_default():
        for step in range(10):
            values = {
                "grad_norm": float("nan") if step == 4 else 2.0 + step,
                "grad_norm/dense": 0.5 * step,
                "loss": 1.0 / (step + 1),
                "learning_rate": 0.01,
            }
            for tag, v in values.items():
                tf.summary.scalar(tag, v, step=step)
                given[tag].append((step, v))
    w.close()
    manifest["tf2"] = {"folder": folder, "scalars": {t: scalars_of(v) for t, v in given.items()}}


def keras_callback():
    """Keras logs whatever train_step returns; a model that returns its global gradient norm."""
    import keras
    import numpy as np
    import tensorflow as tf

    folder = os.path.join(OUT, "keras", "logs")
    keras.utils.set_random_seed(0)

    class NormModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {"loss": loss, "grad_norm": tf.linalg.global_norm(grads)}

    inputs = keras.Input((4,))
    model = NormModel(inputs, keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["grad_norm"]))

    x = np.random.rand(32, 4).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    tb = keras.callbacks.TensorBoard(folder, update_freq=1)
    model.fit(x, y, batch_size=8, epochs=2, validation_data=(x, y), callbacks=[Record(), tb], verbose=0)
    manifest["keras"] = {"folder": folder, "grad_norm_values": seen}


def lightning_loggers():
    """A tiny LightningModule logging grad_norm() with log_dict, its loss per step and epoch, validation, the LR."""
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from lightning.pytorch.utilities import grad_norm

    pl.seed_everything(0, verbose=False)
    folder = os.path.join(OUT, "lightning")
    given = []

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def on_before_optimizer_step(self, optimizer):
            norms = grad_norm(self, norm_type=2)
            given.append({k: float(v) for k, v in norms.items()})
            self.log_dict(norms)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    data = torch.utils.data.TensorDataset(torch.randn(40, 4), torch.randn(40, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    trainer = pl.Trainer(
        max_epochs=3,
        logger=[TensorBoardLogger(folder, name="tb"), CSVLogger(folder, name="csv")],
        callbacks=[LearningRateMonitor(logging_interval="step")],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(Tiny(), loader, loader)
    manifest["lightning"] = {
        "tb_folder": os.path.join(folder, "tb", "version_0"),
        "csv": os.path.join(folder, "csv", "version_0", "metrics.csv"),
        "grad_norms": given,
        "lr": 0.05,
    }


def main():
    torch_summary_writer()
    torch_restart()
    tensorboardx_writer()
    lightning_loggers()
    tf_summary_writer()
    keras_callback()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


main()
