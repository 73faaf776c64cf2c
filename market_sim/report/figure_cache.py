"""report_data.npz: what the report draws from daily.csv and segments.csv, saved by `run` beside
them so that `report DIR` need not read and aggregate them again.

It is used only for the very tables it was made from: it records their SHA-256, and `read`
returns it only when those are the SHA-256 of the files now in the folder (else `report DIR`
reads the CSV files, as it always did). It holds arrays and plain values only (`np.load` with
`allow_pickle=False`, JSON), so a forwarded folder is still read as data, never as code.

The figure data (`figure_data.FigureData`: lines, bands, series by day, histograms, every
replication's cumulative profit for the differences against any baseline) and the segment
summary are stored as a tree of plain values in JSON whose arrays are the npz members.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

import market_sim
from market_sim.report import figure_data
from market_sim.report.figure_data import FigureData

FILE = "report_data.npz"
FORMAT = 1  # raised whenever what is stored changes: an older file is then not used
MADE_FROM = ("daily.csv", "segments.csv")
STORED = (figure_data.Line, figure_data.StrategyDays, figure_data.Cumulative, FigureData)
_CLASSES = {cls.__name__: cls for cls in STORED}  # the only classes `read` makes


@dataclasses.dataclass(frozen=True)
class Cached:
    """What `report DIR` takes from report_data.npz."""

    figures: FigureData  # against the run's own baseline (figure_data.against for another)
    segment_summary: pd.DataFrame


def write(folder: Path, cached: Cached, digests: dict[str, str]) -> None:
    """Save `cached` in `folder/report_data.npz`, made from the tables whose SHA-256 are `digests`
    (by file name)."""
    arrays: dict[str, np.ndarray] = {}
    tree = {
        "format": FORMAT,
        "version": market_sim.__version__,
        "made_from": {name: digests[name] for name in MADE_FROM},
        "figures": _encode(cached.figures, arrays),
        "segment_summary": _encode_frame(cached.segment_summary, arrays),
    }
    arrays["tree"] = np.array(json.dumps(tree))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # an .npz as np.savez writes it, but dated 1980:
        for key, values in arrays.items():  # the same run gives the same bytes
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(member, "w", force_zip64=True) as file:
                np.lib.format.write_array(file, np.asanyarray(values), allow_pickle=False)
    (folder / FILE).write_bytes(buffer.getvalue())


def read(folder: Path, digests: dict[str, str]) -> Cached | None:
    """The saved figure data when it was made from the tables whose SHA-256 are `digests` (by
    file name: those of the files in `folder` now) by this version; else None."""
    try:
        with np.load(folder / FILE, allow_pickle=False) as data:
            tree = json.loads(str(data["tree"]))
            if (
                tree.get("format") != FORMAT
                or tree.get("version") != market_sim.__version__
                or any(tree.get("made_from", {}).get(name) != digests.get(name) for name in MADE_FROM)
            ):
                return None
            arrays = {key: data[key] for key in data.files}
        return Cached(_decode(tree["figures"], arrays), _decode_frame(tree["segment_summary"], arrays))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # missing or damaged: the tables are read instead


def _encode(value, arrays: dict[str, np.ndarray]):
    """`value` as JSON-able plain values; arrays go into `arrays` under a new key."""
    if dataclasses.is_dataclass(value):
        fields = {f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}
        return {"class": type(value).__name__, "fields": fields}
    if isinstance(value, pd.Series):
        return {
            "series": _array(value.to_numpy(), arrays),
            "index": _array(value.index.to_numpy(), arrays),
            "name": value.name,
            "index_name": value.index.name,
        }
    if isinstance(value, np.ndarray):
        return {"array": _array(value, arrays)}
    if isinstance(value, dict):
        return {"dict": [[key, _encode(item, arrays)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(item, arrays) for item in value]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return {"value": value}
    raise TypeError(f"cannot store {type(value).__name__} in {FILE}")


def _decode(node, arrays: dict[str, np.ndarray]):
    if "class" in node:
        cls = _CLASSES[node["class"]]
        return cls(**{name: _decode(item, arrays) for name, item in node["fields"].items()})
    if "series" in node:
        index = pd.Index(arrays[node["index"]], name=node["index_name"])
        return pd.Series(arrays[node["series"]], index=index, name=node["name"])
    if "array" in node:
        return arrays[node["array"]]
    if "dict" in node:
        return {key: _decode(item, arrays) for key, item in node["dict"]}
    if "tuple" in node:
        return tuple(_decode(item, arrays) for item in node["tuple"])
    return node["value"]


def _array(values: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    if values.dtype == object:
        values = values.astype(str)
    key = f"a{len(arrays)}"
    arrays[key] = values
    return key


def _encode_frame(frame: pd.DataFrame, arrays: dict[str, np.ndarray]) -> dict:
    columns = [[str(name), _array(frame[name].to_numpy(), arrays), str(frame[name].dtype)] for name in frame]
    return {"columns": columns, "rows": len(frame)}


def _decode_frame(node: dict, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    if not node["columns"]:
        return pd.DataFrame()
    return pd.DataFrame({name: pd.Series(arrays[key], dtype=dtype) for name, key, dtype in node["columns"]})
