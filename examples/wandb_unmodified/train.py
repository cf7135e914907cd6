"""A training script written the way W&B's docs write one: it imports the real ``wandb``.

Run it under ``hypersweep agent`` with ``sweep.yaml`` beside it; nothing in it knows about
hypersweep. The "model" is a toy: the loss falls towards a floor set by the learning rate, so
a learning rate far from 0.01 is clearly worse and hyperband can stop it early.
"""

import math
import time

import wandb

run = wandb.init(config={"lr": 0.01, "epochs": 9, "epoch_seconds": 0.2})
lr = wandb.config.lr
floor = abs(math.log10(lr) + 2)  # 0 at lr = 0.01, 1 at lr = 0.1 or 0.001
for epoch in range(wandb.config.epochs):
    loss = floor + 2.0 / (epoch + 1)
    wandb.log({"epoch": epoch, "loss": loss, "accuracy": 1 / (1 + loss)})
    time.sleep(wandb.config.epoch_seconds)
run.summary["final_loss"] = loss
wandb.finish()
