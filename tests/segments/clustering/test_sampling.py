"""sampling.py: samples and batches that do not depend on row order. No database, no Django."""

import numpy as np

from segments.clustering.sampling import hash_batches, row_hashes, sample_positions


def rows(n=2_000, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 3))


def test_a_sample_holds_the_same_rows_in_the_same_order_whatever_order_the_rows_come_in():
    X = rows()
    shuffled = X[np.random.default_rng(1).permutation(len(X))]

    sample = X[sample_positions(X, 300, seed=4)]

    assert len(sample) == 300
    np.testing.assert_array_equal(shuffled[sample_positions(shuffled, 300, seed=4)], sample)


def test_another_seed_draws_another_sample():
    X = rows()

    first = set(sample_positions(X, 300, seed=4).tolist())
    other = set(sample_positions(X, 300, seed=5).tolist())

    assert first != other


def test_a_sample_no_smaller_than_the_rows_is_every_row_in_hash_order():
    X = rows(n=50)

    positions = sample_positions(X, None, seed=0)

    assert sorted(positions.tolist()) == list(range(50))
    assert (np.diff(row_hashes(X, 0)[positions].astype(np.float64)) >= 0).all()
    np.testing.assert_array_equal(sample_positions(X, 50, seed=0), positions)


def test_minus_zero_and_zero_hash_alike():
    assert row_hashes(np.array([[0.0, 1.0]]), 3)[0] == row_hashes(np.array([[-0.0, 1.0]]), 3)[0]


def test_batches_cover_every_row_once_and_hold_the_same_rows_in_any_order():
    X = rows(n=10_000)
    permutation = np.random.default_rng(2).permutation(len(X))

    batches = hash_batches(row_hashes(X, 7), 1_024)
    shuffled = hash_batches(row_hashes(X[permutation], 7), 1_024)

    assert sorted(np.concatenate(batches).tolist()) == list(range(len(X)))
    assert len(batches) == 10  # ceil(10,000 / 1,024) slices of the hash range
    assert [sorted(permutation[batch].tolist()) for batch in shuffled] == [sorted(batch.tolist()) for batch in batches]
