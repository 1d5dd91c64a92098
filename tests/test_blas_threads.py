"""numpy's OpenBLAS pool capped at the thread budget (edge_vc.backends.blas): set, and results unchanged."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge_vc.backends import blas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_limit_sets_numpys_openblas_and_keeps_results():
    if not blas._openblas_libraries():
        pytest.skip("this numpy bundles no OpenBLAS")
    rng = np.random.default_rng(0)
    a, b = rng.random((600, 201), dtype=np.float32), rng.random((201, 80), dtype=np.float32)
    before = a @ b
    assert blas.limit_blas_threads(1)
    assert np.array_equal(a @ b, before)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p["internal_api"] == "openblas"]
    assert pools and all(p["num_threads"] == 1 for p in pools if p["filepath"] in blas._openblas_libraries())


def test_no_budget_leaves_the_pool_alone():
    assert blas.limit_blas_threads(None) is False
    assert blas.limit_blas_threads(0) is False
