"""Writes fixture.safetensors with Python's `safetensors` package (run once; the output is committed).

    python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors numpy
    /tmp/stvenv/bin/python crates/nn/tests/data/make_fixture.py
"""
import os
import numpy as np
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
save_file(
    {
        "a": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32),
        "b": np.array([0.5, -0.25], dtype=np.float64),
    },
    os.path.join(here, "fixture.safetensors"),
    metadata={"written_by": "make_fixture.py"},
)
