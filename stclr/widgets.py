"""Small ipywidgets helpers shared by the course notebooks' explorer cells: human labels, a log-scale temperature
slider that lands exactly on the paper's values (0.1 for TCLR, 0.3 for STCLR), and controls wide enough for
their labels. ipywidgets is imported lazily: the notebooks only build widgets when ``interactive`` is true.
"""

from __future__ import annotations

from typing import Any, Sequence

# roughly log-spaced (1, 1.5, 2, 3, 5, 7 per decade) and containing TCLR's 0.1 and STCLR's 0.3 exactly
TAU_VALUES = (0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)

# labels are never cut off: the description takes the width it needs
STYLE = {"description_width": "initial"}


def tau_slider(value: float = 0.3, *, description: str = "τ (temperature)", values: Sequence[float] = TAU_VALUES,
               lo: float | None = None, hi: float | None = None) -> Any:
    """A slider over ``values`` (log-spaced, so it moves in ratios), always holding ``value`` itself; ``lo``/``hi``
    trim the range. Its readout shows the value as the paper writes it (``0.3``, not ``0.299``)."""
    import ipywidgets as widgets

    vals = sorted({float(v) for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)} | {float(value)})
    return widgets.SelectionSlider(options=[(f"{v:g}", v) for v in vals], value=float(value), description=description,
                                   style=STYLE, layout=widgets.Layout(width="420px"))


def dropdown(options, value=None, *, description: str) -> Any:
    """A dropdown whose label and options are shown in full (``options``: values or ``(label, value)`` pairs)."""
    import ipywidgets as widgets

    kw = {} if value is None else {"value": value}
    return widgets.Dropdown(options=options, description=description, style=STYLE,
                            layout=widgets.Layout(width="max-content", min_width="260px"), **kw)
