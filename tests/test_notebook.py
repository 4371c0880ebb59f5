"""notebooks/visual_dynamics_colab.ipynb runs top to bottom (nbclient), on the tiny trained run."""

import os

import nbformat
from nbclient import NotebookClient

from conftest import ROOT


def test_notebook_executes(tiny_run, monkeypatch):
    path = os.path.join(ROOT, "notebooks", "visual_dynamics_colab.ipynb")
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("VISUAL_DYNAMICS_WORKDIR", tiny_run[0])
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("z of" in o.get("text", "") for o in outputs)
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 6  # samples, transfer, extrapolation, 2 sweeps, feature maps
