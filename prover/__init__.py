"""One step of proving: theorems, verification, the model, sampling and LoRA training."""
import os

# torch's OpenMP threads busy-wait between parallel regions by default. The tiny models here run
# many very short ops, and when any other process wants a core (a Coq worker, another test) the
# spinning thread starves the working one: training measured 15-30x slower on 2 shared cores,
# sampling 5x. PASSIVE lets idle threads sleep. OpenMP reads it once, when torch is first
# imported, so it is set here, before any prover module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
