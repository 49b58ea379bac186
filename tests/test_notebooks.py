"""The evaluation notebook runs top to bottom on handwritten-dev, in this venv, within a time limit."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NOTEBOOK = ROOT / "notebooks" / "evaluation.ipynb"

pytestmark = pytest.mark.skipif(not (SHARED / "bench" / "handwritten-dev" / "qrels.txt").exists(),
                                reason=f"benchmark sets not found at {SHARED / 'bench'} (../shared is absent)")


def test_evaluation_notebook_executes_on_handwritten_dev(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    monkeypatch.setenv("MM_EVAL_SETS", "dev")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel must be this venv's interpreter (jupyter_client maps "python3" to sys.executable)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env=dict(os.environ))

    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "expected the comparison, per-difficulty and per-chain plots"
    text = "".join(o.get("text", "") for o in outputs)
    assert "handwritten-dev" in text
