"""What a user's clone holds must be enough: nothing in it points at folders beside the repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_OURS = {".git", ".venv", "__pycache__", ".pytest_cache", "staticfiles", "media", "out"}


def test_nothing_in_the_repository_points_at_the_shared_folder_beside_it():
    needle = "../" + "shared"
    files = [
        path
        for path in ROOT.rglob("*")
        if path.is_file() and not NOT_OURS & set(path.relative_to(ROOT).parts) and path.stat().st_size < 1_000_000
    ]
    assert len(files) > 20
    assert [str(path.relative_to(ROOT)) for path in files if needle in path.read_text(errors="replace")] == []
