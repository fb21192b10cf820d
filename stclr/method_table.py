"""The one table of pretraining methods: what each optimises, which clips it needs, what its batch holds.

Every module that names methods reads them from here (config's choices, the planner's clip groups, the losses
each method sums, the batch keys the loader yields, the default temperature), so a method is added or changed
in one place. No torch: configs and the pure planner import it cheaply.

| method | losses (Eq. 1's terms) | clip groups | paper |
|---|---|---|---|
| ``stclr`` | L_SSL + L_IC + L_SLL | sparse local clips, SSL tuple | Sec. 3, Eq. 1 |
| ``simplified_tclr`` | L_IC + L_SLL | sparse local clips | Sec. 4.2.2 |
| ``tclr`` | L_IC + L_LL + L_GL | dense local clips + a global clip | the TCLR baseline |
| ``ssl`` | L_SSL | SSL tuple | Sec. 4.2.1 |
| ``ic`` | L_IC | sparse local clips | the instance loss alone (Eq. 2) |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["METHOD_TABLE", "Method", "method_names"]


@dataclass(frozen=True)
class Method:
    name: str
    losses: tuple[str, ...]  # the loss terms summed (names of stclr.methods' loss functions' outputs)
    clips: frozenset[str]  # clip groups the planner draws: subset of {"sparse", "dense", "ssl"}
    batch_keys: tuple[str, ...]  # what the loader's batch must hold for the losses
    temperature: float  # the method's tau of h(u, v) = exp(cos / tau) (Sec. 4.2.2; TCLR's own 0.1)


METHOD_TABLE: dict[str, Method] = {m.name: m for m in (
    Method("stclr", ("ssl", "ic", "sll"), frozenset({"sparse", "ssl"}), ("clips", "ic_pair", "ssl_clips", "ssl_labels"), 0.3),
    Method("simplified_tclr", ("ic", "sll"), frozenset({"sparse"}), ("clips", "ic_pair"), 0.3),
    Method("tclr", ("ic", "ll", "gl"), frozenset({"dense"}), ("clips", "ic_pair", "global_clips"), 0.1),
    Method("ssl", ("ssl",), frozenset({"ssl"}), ("ssl_clips", "ssl_labels"), 0.3),
    Method("ic", ("ic",), frozenset({"sparse"}), ("clips", "ic_pair"), 0.3),
)}


def method_names() -> tuple[str, ...]:
    """The methods, in the table's order (``stclr`` first)."""
    return tuple(METHOD_TABLE)
