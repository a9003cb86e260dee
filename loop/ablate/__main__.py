"""``python -m loop.ablate [--target module:function] ARM_YAML RUN_DIR [--resume]``: run one arm."""
import sys

from loop.ablate.runner import arm_main

sys.exit(arm_main())
