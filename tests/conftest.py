"""Shared test fixtures.

The real split files and videos live in ``../shared/realdata`` beside the checkout; tests that read them
use the ``realdata`` fixture and skip cleanly when the folder is absent (they are never copied here).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("STCLR_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder not found: {REALDATA}")
    return REALDATA


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # Test tensors are tiny: extra intra-op threads only add stalls on CI's 2 shared cores.
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_frame_cache_between_tests():
    # The engine's run_* functions turn on the process-wide decoded-video cache (the course preset's
    # data.cache_mb); a test that counts decodes or reads a damaged file must not see another test's cache.
    yield
    from stclr.video import set_frame_cache

    set_frame_cache(0)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """2 classes x 6 videos (8 train / 4 test), 24 frames of 32x32: generated in about a second, once per test
    module (a module that needs another dataset defines its own ``synth``)."""
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(root, SynthConfig(num_classes=2, videos_per_class=6, num_frames=24, size=32,
                                             clips_per_group=2, test_groups=1), show_progress=False)
    return root
