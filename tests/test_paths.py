"""dcmexport.paths: containment after symlinks are resolved, the one home of the question."""

from __future__ import annotations

from pathlib import Path

from dcmexport.paths import contains, is_inside, is_inside_any, outside_of, resolve_child


class TestContains:
    def test_strict_and_or_equal(self, tmp_path: Path) -> None:
        assert contains(tmp_path, tmp_path / "a" / "b")
        assert not contains(tmp_path, tmp_path)
        assert contains(tmp_path, tmp_path, or_equal=True)
        assert not contains(tmp_path / "a", tmp_path / "ab")  # a name prefix is not a parent


class TestIsInside:
    def test_symlink_is_followed(self, tmp_path: Path) -> None:
        folder, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
        folder.mkdir()
        elsewhere.mkdir()
        (elsewhere / "link").symlink_to(folder / "x.dcm")
        assert is_inside(elsewhere / "link", folder.resolve())
        assert not is_inside(elsewhere / "plain", folder.resolve())

    def test_symlink_loop_is_not_inside(self, tmp_path: Path) -> None:
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
        assert not is_inside(tmp_path / "loop" / "x", tmp_path.resolve() / "other")

    def test_any(self, tmp_path: Path) -> None:
        a, b = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
        assert is_inside_any(tmp_path / "b" / "x", [a, b])
        assert not is_inside_any(tmp_path / "b", [a, b])
        assert is_inside_any(tmp_path / "b", [a, b], or_equal=True)


class TestOutsideOf:
    def test_files_links_and_missing_folders(self, tmp_path: Path) -> None:
        out = tmp_path / "in" / "out"
        out.mkdir(parents=True)
        (out / "x.png").write_bytes(b"")
        (tmp_path / "in" / "link.png").symlink_to(out / "x.png")
        outside = outside_of(out.resolve())
        assert not outside(out / "x.png")
        assert not outside(tmp_path / "in" / "link.png")
        assert outside(tmp_path / "in" / "ct.dcm")
        assert not outside(out / "missing-folder" / "x.dcm")


class TestResolveChild:
    def test_escapes_are_refused(self, tmp_path: Path) -> None:
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "escape").symlink_to(tmp_path)
        assert resolve_child(tmp_path / "out", "a.png") == tmp_path / "out" / "a.png"
        assert resolve_child(tmp_path / "out", "../a.png") is None
        assert resolve_child(tmp_path / "out", "/etc/passwd") is None
        assert resolve_child(tmp_path / "out", "escape/a.png") is None
