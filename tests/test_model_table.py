"""Receptive fields against the write-ups, table formatting, the summary script.

Receptive fields below are worked by hand with rf += (kernel - 1) * jump, jump *= stride
(dilation 1 everywhere in the references), starting from rf = jump = 1.
"""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from mnist_jax.models import table as model_table
from mnist_jax.models import layers

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SPATIAL = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")


def spatial_receptive_fields(name: str) -> list[int]:
  """RF after each convolution/pooling row (the rows that can change it)."""
  return [row.receptive_field for row in model_table.rows(name) if row.layer_type in SPATIAL]


def test_ref2_model_init_receptive_field():
  # ref2.md, Model Init: "Receptive field is 16." That is the RF at the last max-pool
  # (conv 3, conv 5, pool 6, conv 10, conv 14, pool 16), the input of the Linear layers.
  rows = model_table.rows("ref2_model_init", include_functional=True)
  flatten = next(row for row in rows if row.name == "view")
  assert flatten.receptive_field == 16
  # Linear-5 reads the whole 4x4 map (jump 4): 16 + 3 * 4 = 28, the whole image.
  assert model_table.receptive_field("ref2_model_init") == 28


def test_ref2_net1_receptive_field():
  # ref2.md, Net1: "Receptive field is 11." Wrong by the standard formula: no layer of the
  # published table has RF 11. Conv 3, conv 5, pool 6 (jump 2), conv 10, conv 14, pool 16
  # (jump 4), conv 24, AvgPool2d(2) 24 + 1 * 4 = 28.
  assert spatial_receptive_fields("ref2_net1") == [3, 5, 6, 10, 14, 16, 24, 28]
  assert model_table.receptive_field("ref2_net1") == 28


@pytest.mark.parametrize("name", ["ref2_net2", "ref2_final"])
def test_ref2_net2_and_final_receptive_field(name):
  # ref2.md states 16 (Net2) and 12 (Final Model); wrong by the standard formula. Both nets:
  # conv 3, conv 5, 1x1 5, pool 6 (jump 2), conv 10, 14, 18, padded conv 22,
  # AvgPool2d(6) 22 + 5 * 2 = 32, 1x1 head 32.
  assert spatial_receptive_fields(name) == [3, 5, 5, 6, 10, 14, 18, 22, 32, 32]
  assert model_table.receptive_field(name) == 32


def test_ref4_receptive_fields_follow_the_text_list():
  # ref4.md, "Final Model Architecture", rf of items 1-9. Item 1 reads "rf = 585", a typo
  # for 5 x 5 (a 5x5 kernel on the input); all others agree with the formula.
  assert spatial_receptive_fields("ref4_step5") == [5, 5, 6, 10, 10, 12, 20, 28, 32]
  assert model_table.receptive_field("ref4_step5") == 32


def test_ref3_receptive_field():
  # ref3.md gives its RF calculation only as an image. Conv 3, conv 5, pool 6 (jump 2),
  # 1x1 6, conv 10, 14, 18, 22, AvgPool2d(4) 22 + 3 * 2 = 28, 1x1 head 28.
  assert spatial_receptive_fields("ref3_step4") == [3, 5, 6, 6, 10, 14, 18, 22, 28, 28]
  assert [row.jump for row in model_table.rows("ref3_step4") if row.layer_type in SPATIAL] == [
      1, 1, 2, 2, 2, 2, 2, 2, 8, 8]


def test_ref1_receptive_field():
  # ref1.md states no RF. Conv 3, 1x1 3, conv 5, pool 6 (jump 2), padded conv 10, 1x1 10,
  # conv 14, 18, 22, AvgPool2d(6) 22 + 5 * 2 = 32, 1x1 head 32.
  assert spatial_receptive_fields("ref1_code5") == [3, 3, 5, 6, 10, 10, 14, 18, 22, 32, 32]


def test_stride_dilation_padding_and_dense_on_a_map():
  spec = layers.ModelSpec("toy", (
      layers.Conv(4, 3, stride=2),          # 28 -> 13; rf 3, jump 2
      layers.Conv(4, 3, dilation=2),        # 13 -> 9;  rf 3 + 2*2*2 = 11
      layers.Conv(4, 3, padding=1),         # 9 -> 9;   rf 11 + 2*2 = 15
      layers.MaxPool(2),                    # 9 -> 4;   rf 15 + 1*2 = 17, jump 4
      layers.Flatten(),
      layers.Dense(10),                     # sees the 4x4 map: 17 + 3*4 = 29
      layers.LogSoftmax(),
  ), 0.0, "test")
  rows = model_table.rows(spec)
  assert [(r.name, r.output_shape, r.receptive_field, r.jump) for r in rows] == [
      ("Conv2d-1", (-1, 4, 13, 13), 3, 2),
      ("Conv2d-2", (-1, 4, 9, 9), 11, 2),
      ("Conv2d-3", (-1, 4, 9, 9), 15, 2),
      ("MaxPool2d-4", (-1, 4, 4, 4), 17, 4),
      ("Linear-5", (-1, 10), 29, 16),
  ]
  assert [r.params for r in rows] == [40, 148, 148, 0, 650]
  assert model_table.receptive_field(spec) == 29


def test_functional_rows_do_not_shift_the_numbering():
  with_functional = model_table.rows("ref2_model_init", include_functional=True)
  assert [r for r in with_functional if not r.functional] == model_table.rows("ref2_model_init")
  assert [r.name for r in with_functional[:5]] == [
      "Conv2d-1", "F.relu", "Conv2d-2", "F.relu", "F.max_pool2d"]
  assert with_functional[-1].name == "F.log_softmax"


def test_table_matches_torchsummary_format():
  text = model_table.table("ref3_step4")
  lines = text.splitlines()
  # Row text copied from ref3.md "Model Summary"; our RF and jump columns follow it.
  assert any(line.startswith("            Conv2d-1           [-1, 12, 26, 26]             108")
             for line in lines)
  assert any(line.startswith("           Conv2d-14             [-1, 14, 8, 8]           1,764")
             for line in lines)
  header = next(line for line in lines if "Layer (type)" in line)
  assert header.split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "RF", "Jump"]
  for expected in ("Total params: 9,436", "Trainable params: 9,436", "Non-trainable params: 0",
                   "BatchNorm running statistics (buffers): 172", "Receptive field: 28"):
    assert expected in lines
  assert sum(line.startswith("  ") and "-" in line.split()[0] for line in lines) == 27


def test_count_params_counts_only_params():
  variables = {"params": {"a": np.zeros((3, 4)), "b": {"c": np.zeros(5)}},
               "batch_stats": {"mean": np.zeros(100)}}
  assert model_table.count_params(variables) == 17


@pytest.mark.parametrize("function", [model_table.rows, model_table.table, model_table.receptive_field])
def test_unknown_model(function):
  with pytest.raises(ValueError, match="unknown model 'ref0'.*ref3_step4"):
    function("ref0")


def test_script_prints_the_table():
  result = subprocess.run([sys.executable, "scripts/model_table.py", "--model=ref4_step5"],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr
  assert "Total params: 9,426" in result.stdout
  assert "Receptive field: 32" in result.stdout


def test_script_rejects_an_unknown_model():
  result = subprocess.run([sys.executable, "scripts/model_table.py", "--model=ref9"],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert result.returncode != 0
  assert "ref3_step4" in result.stderr
