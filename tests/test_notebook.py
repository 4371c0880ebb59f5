"""notebooks/visual_dynamics_colab.ipynb runs top to bottom (nbclient): on the shipped model by default,
and on a run named by VISUAL_DYNAMICS_WORKDIR (the tiny trained run); then on sprites_cpu."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT


@pytest.mark.parametrize("model", ["shipped", "workdir"])
def test_notebook_executes(model, request, monkeypatch):
    path = os.path.join(ROOT, "notebooks", "visual_dynamics_colab.ipynb")
    notebook = nbformat.read(path, as_version=4)
    if model == "workdir":
        monkeypatch.setenv("VISUAL_DYNAMICS_WORKDIR", request.getfixturevalue("tiny_run")[0])
    else:
        monkeypatch.delenv("VISUAL_DYNAMICS_WORKDIR", raising=False)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(("shapes_cpu: shapes, 64 px" if model == "shipped" else "z of") in o.get("text", "")
               for o in outputs)
    assert any("sprites_cpu: lpc_sprites, 64 px" in o.get("text", "") for o in outputs)
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 8  # samples, transfer, extrapolation, 2 sweeps, feature maps; sprites' two
