"""Without a browser the browser tests skip and say why, except under CI=true, where they fail."""

import pytest

from .conftest import browser_missing, not_available


def test_a_missing_chromium_names_the_make_target_that_installs_it(tmp_path):
    reason = browser_missing(tmp_path / "chromium")

    assert "needs Chromium at" in reason and "make browser" in reason


def test_outside_ci_a_missing_browser_skips_with_the_reason():
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        not_available("needs Chromium: make browser", in_ci=False)


def test_under_ci_a_missing_browser_fails_the_run():
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        not_available("needs Chromium: make browser", in_ci=True)
