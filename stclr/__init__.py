"""STCLR teaching kit: Sparse Temporal Contrastive Learning for video representation.

The package implements the whole method of the paper (Altabrawee and Mohd Noor, *STCLR: Sparse Temporal
Contrastive Learning for Video Representation*, Neurocomputing; summarised in ``docs/method.md``): frame-exact video
reading (:mod:`stclr.video`), dataset splits and the synthetic motion dataset (:mod:`stclr.data`),
sparse clip planning (:mod:`stclr.sampling`, :mod:`stclr.plan`), augmentation (:mod:`stclr.augment`),
models (:mod:`stclr.models`), losses (:mod:`stclr.losses`), methods (:mod:`stclr.methods`) and the
cost model (:mod:`stclr.cost`). ``docs/architecture.md`` maps the modules.
"""

__version__ = "0.1.0"
