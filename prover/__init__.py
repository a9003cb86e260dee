"""One step of proving: theorems, verification, the model, sampling and LoRA training."""
